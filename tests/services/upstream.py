"""Local HTTP stand-ins for the service tests (Starlette under uvicorn in a thread, real HTTP):
an OpenAI-compatible upstream that answers ``answers[last user message]`` (so a test can make the
model "generate" a given text through the real gateway), a real-name provider that checks the
request signature, and an SMS gateway."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from hegui.testing import ThreadedServer

DEFAULT = "你好，这是一个普通的回答。"


class _Server(ThreadedServer):
    """One route on a free port; ``with`` starts and stops it."""

    def __init__(self, path: str, handler: Any) -> None:
        super().__init__(Starlette(routes=[Route(path, handler, methods=["POST"])]), lifespan="off")
        self.url = self.base + path


class Verifier(_Server):
    """A real-name provider: checks the request signature, answers ``match`` for the one known name,
    and sleeps past any timeout for the name "慢慢"."""

    def __init__(self, secret: str) -> None:
        super().__init__("/verify", self._verify)
        self.secret = secret.encode()
        self.calls = 0
        self.bad_signatures = 0

    async def _verify(self, request: Request) -> JSONResponse:
        from hegui.identity.providers import sign

        self.calls += 1
        body = await request.body()
        ts = request.headers.get("x-hegui-timestamp", "")
        if sign(self.secret, ts, body) != request.headers.get("x-hegui-signature"):
            self.bad_signatures += 1
            return JSONResponse({"error": "bad signature"}, status_code=401)
        data = json.loads(body)
        if data["name"] == "慢慢":
            await asyncio.sleep(3)
        return JSONResponse({"match": data["name"] == "张三"})


class SmsGateway(_Server):
    """An SMS gateway: keeps each message; sleeps past the timeout while ``slow``."""

    def __init__(self) -> None:
        super().__init__("/sms", self._sms)
        self.messages: list[dict[str, Any]] = []
        self.auth: list[str] = []
        self.slow = False

    async def _sms(self, request: Request) -> JSONResponse:
        if self.slow:
            await asyncio.sleep(2)
        self.messages.append(await request.json())
        self.auth.append(request.headers.get("authorization", ""))
        return JSONResponse({"ok": True})


class TestUpstream(_Server):
    """Chat completions, plain or streamed (4 characters per delta)."""

    def __init__(self) -> None:
        super().__init__("/v1/chat/completions", self._chat)
        self.answers: dict[str, str] = {}
        self.url = f"{self.base}/v1"
        self.arrivals: list[float] = []  # time.monotonic() of each request

    async def _chat(self, request: Request) -> Response:
        self.arrivals.append(time.monotonic())
        body: dict[str, Any] = await request.json()
        last = str(body["messages"][-1].get("content", ""))
        text = self.answers.get(last, DEFAULT)
        if body.get("stream"):
            def events() -> Any:
                for i in range(0, len(text), 4):
                    delta = {"id": "t", "object": "chat.completion.chunk", "model": body["model"],
                             "choices": [{"index": 0, "delta": {"content": text[i : i + 4]}, "finish_reason": None}]}
                    yield f"data: {json.dumps(delta, ensure_ascii=False)}\n\n"
                yield "data: [DONE]\n\n"

            return StreamingResponse(events(), media_type="text/event-stream")
        return JSONResponse({"id": "t", "object": "chat.completion", "created": int(time.time()), "model": body["model"],
                             "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                          "finish_reason": "stop"}],
                             "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})
