"""The upstream client: httpx, pooled, timeouts, retries on connection errors only (a request
that reached the model server is never sent twice)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from hegui.gateway import fastjson
from hegui.gateway.config import GatewayConfig
from hegui.gateway.errors import GatewayError, no_upstream
from hegui.gateway.http1 import Http1Transport


@dataclass(frozen=True, slots=True)
class Target:
    base_url: str
    api_key: str | None
    model: str


def upstream_error(e: Exception) -> GatewayError:
    if isinstance(e, httpx.TimeoutException):
        return GatewayError(504, "upstream_timeout", "上游模型服务响应超时", "the upstream model server timed out")
    return GatewayError(502, "upstream_unreachable", "无法连接上游模型服务", "the upstream model server could not be reached")


def status_error(status: int, body: bytes) -> GatewayError:
    """An upstream HTTP error as the client should see it: 4xx passed on, 5xx as 502."""
    msg = ""
    try:
        msg = str(fastjson.loads(body).get("error", {}).get("message", ""))[:300]
    except Exception:
        msg = ""
    if status in (401, 403):  # the gateway's own upstream credentials are wrong, not the client's key
        return GatewayError(502, "upstream_auth", f"网关访问上游模型服务的凭据被拒绝（HTTP {status}）",
                            f"the upstream model server refused the gateway's credentials (HTTP {status})")
    if 400 <= status < 500:
        return GatewayError(status, "upstream_rejected", f"上游模型服务拒绝了请求：{msg}", f"the upstream model server rejected the request: {msg}")
    return GatewayError(502, "upstream_error", f"上游模型服务出错（HTTP {status}）", f"the upstream model server failed (HTTP {status})")


class Upstream:
    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        limits = httpx.Limits(max_connections=config.max_connections, max_keepalive_connections=config.max_connections)
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(config.read_timeout_s, connect=config.connect_timeout_s), limits=limits,
        )
        # httpx with hegui's HTTP/1.1 transport (see hegui.gateway.http1). Set after construction, not
        # passed as ``transport=``: httpx ignores proxies from the environment (HTTPS_PROXY…) when given one.
        self.client._transport = Http1Transport(limits=limits)
        self._timeout = self.client.timeout.as_dict()
        self._default_headers = self.client.headers.raw  # Accept, Accept-Encoding, Connection, User-Agent
        self._routes: dict[str, tuple[httpx.URL, httpx.AsyncBaseTransport]] = {}

    @property
    def configured(self) -> bool:
        return bool(self.config.upstream_url or self.config.models)

    def target(self, model: str) -> Target:
        """Where ``model`` goes. Unknown model → 404; nothing configured → 503."""
        if not self.configured:
            raise no_upstream()
        m = self.config.models.get(model)
        if m is not None:
            return Target(m.url.rstrip("/"), m.api_key.get_secret_value() if m.api_key else None, m.model or model)
        if self.config.upstream_url:
            key = self.config.upstream_api_key
            return Target(self.config.upstream_url.rstrip("/"), key.get_secret_value() if key else None, model)
        raise GatewayError(404, "model_not_found", f"模型不存在：{model[:100]}", f"the model does not exist: {model[:100]}")

    def _route(self, url: str) -> tuple[httpx.URL, httpx.AsyncBaseTransport]:
        """The parsed URL and the transport the client would pick for it (its pool, or a proxy from
        the environment), worked out once per URL: the gateway calls a handful of URLs."""
        r = self._routes.get(url)
        if r is None:
            u = httpx.URL(url)
            r = (u, self.client._transport_for_url(u))  # httpx's own choice, proxies included
            if len(self._routes) < 1024:
                self._routes[url] = r
        return r

    def _request(self, method: str, t: Target, path: str, body: dict[str, Any] | None = None) -> httpx.Request:
        """The request ``client.build_request`` would build (client default headers, timeouts;
        JSON encoded with orjson), without its per-request merging of URL, headers and cookies."""
        headers = list(self._default_headers)
        if body is not None:
            headers.append((b"Content-Type", b"application/json"))
        if t.api_key:
            headers.append((b"Authorization", f"Bearer {t.api_key}".encode()))
        url, _ = self._route(f"{t.base_url}{path}")
        return httpx.Request(method, url, headers=headers, content=None if body is None else fastjson.dumps(body),
                             extensions={"timeout": self._timeout})

    async def _send(self, req: httpx.Request, *, stream: bool) -> httpx.Response:
        """Send through the transport itself, not ``client.send``: the client's layers around it (auth
        flow, redirect loop, event hooks, cookie jar) do nothing for the gateway but cost CPU on
        every request — and a shared cookie jar would carry one user's upstream cookies into the
        next user's request. Connection errors are retried (the request never reached the server);
        nothing else is."""
        transport = self._route(str(req.url))[1]
        for attempt in range(self.config.connect_retries + 1):
            try:
                resp = await transport.handle_async_request(req)
            except (httpx.ConnectError, httpx.ConnectTimeout) as e:
                if attempt >= self.config.connect_retries:
                    raise upstream_error(e) from e
                await asyncio.sleep(0.05 * 2**attempt)
                continue
            except httpx.HTTPError as e:
                raise upstream_error(e) from e
            resp.request = req
            if not stream:
                try:
                    await resp.aread()
                except httpx.HTTPError as e:
                    await resp.aclose()
                    raise upstream_error(e) from e
                except BaseException:
                    await resp.aclose()
                    raise
            return resp
        raise AssertionError("unreachable")  # pragma: no cover

    async def post_json(self, t: Target, path: str, body: dict[str, Any]) -> dict[str, Any]:
        resp = await self._send(self._request("POST", t, path, body), stream=False)
        if resp.status_code >= 400:
            raise status_error(resp.status_code, resp.content)
        try:
            data = fastjson.loads(resp.content)
        except ValueError as e:
            raise GatewayError(502, "upstream_bad_response", "上游返回了无法解析的内容", "the upstream returned an unreadable response") from e
        if not isinstance(data, dict):
            raise GatewayError(502, "upstream_bad_response", "上游返回了无法解析的内容", "the upstream returned an unreadable response")
        return data

    async def post_bytes(self, t: Target, path: str, body: dict[str, Any]) -> tuple[bytes, str]:
        """POST JSON, get a binary body back (audio): (bytes, content type)."""
        resp = await self._send(self._request("POST", t, path, body), stream=False)
        if resp.status_code >= 400:
            raise status_error(resp.status_code, resp.content)
        return resp.content, resp.headers.get("content-type", "application/octet-stream")

    async def get_json(self, t: Target, path: str) -> dict[str, Any]:
        resp = await self._send(self._request("GET", t, path), stream=False)
        if resp.status_code >= 400:
            raise status_error(resp.status_code, resp.content)
        return dict(fastjson.loads(resp.content))

    @asynccontextmanager
    async def stream(self, t: Target, path: str, body: dict[str, Any]) -> AsyncIterator[httpx.Response]:
        resp = await self._send(self._request("POST", t, path, body), stream=True)
        try:
            if resp.status_code >= 400:
                await resp.aread()
                raise status_error(resp.status_code, resp.content)
            yield resp
        finally:
            await resp.aclose()

    async def aclose(self) -> None:
        await self.client.aclose()
