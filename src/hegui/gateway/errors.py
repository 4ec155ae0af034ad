"""OpenAI-style error objects with bilingual messages (zh-CN first, then English)."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from hegui.gateway.fastjson import FastJSONResponse


class GatewayError(Exception):
    """An error the client sees as ``{"error": {...}}`` with ``status``."""

    def __init__(self, status: int, code: str, zh: str, en: str, *, type_: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(en)
        self.status, self.code, self.zh, self.en = status, code, zh, en
        self.type = type_ or _type_for(status)
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"message": f"{self.zh} / {self.en}", "type": self.type, "code": self.code, "param": None}}

    def response(self, request_id: str = "") -> JSONResponse:
        headers = dict(self.headers)
        if request_id:
            headers["X-Request-Id"] = request_id
        return FastJSONResponse(self.body(), status_code=self.status, headers=headers)


def _type_for(status: int) -> str:
    if status == 401:
        return "authentication_error"
    if status == 403:
        return "permission_error"
    if status == 429:
        return "rate_limit_error"
    if status in (400, 404, 413, 422):
        return "invalid_request_error"
    return "api_error"


def no_upstream() -> GatewayError:
    return GatewayError(503, "no_upstream", "网关未配置上游模型服务（设置 --upstream 或 HEGUI_GATEWAY__UPSTREAM_URL）",
                        "no upstream model server is configured (set --upstream or HEGUI_GATEWAY__UPSTREAM_URL)")


def moderation_failed() -> GatewayError:
    return GatewayError(503, "moderation_unavailable", "内容审核暂不可用，请求已拒绝", "content moderation is unavailable; the request was refused")


def store_failed() -> GatewayError:
    return GatewayError(503, "audit_unavailable", "审计存储暂不可用，请求已拒绝", "the audit store is unavailable; the request was refused")
