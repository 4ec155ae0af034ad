"""A tiny OpenAI-compatible test upstream (Starlette under uvicorn in a thread): it answers each
chat request with ``answers[last user message]`` or a fixed default, so a test can make the model
"generate" a given text through the real gateway."""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

DEFAULT = "你好，这是一个普通的回答。"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Verifier:
    """A real-name provider stand-in: checks the request signature, answers ``match`` for the one
    known name, and sleeps past any timeout for the name "慢慢"."""

    __test__ = False

    def __init__(self, secret: str) -> None:
        self.secret = secret.encode()
        self.calls = 0
        self.bad_signatures = 0
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/verify"
        app = Starlette(routes=[Route("/verify", self._verify, methods=["POST"])])
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="error",
                                                    access_log=False, lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    async def _verify(self, request: Request) -> JSONResponse:
        import asyncio

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

    __enter__ = lambda self: _start(self)  # noqa: E731
    __exit__ = lambda self, *_: _stop(self)  # noqa: E731


class SmsGateway:
    """An SMS gateway stand-in: keeps each message; sleeps past the timeout while ``slow``."""

    __test__ = False

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.auth: list[str] = []
        self.slow = False
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/sms"
        app = Starlette(routes=[Route("/sms", self._sms, methods=["POST"])])
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="error",
                                                    access_log=False, lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    async def _sms(self, request: Request) -> JSONResponse:
        import asyncio

        if self.slow:
            await asyncio.sleep(2)
        self.messages.append(await request.json())
        self.auth.append(request.headers.get("authorization", ""))
        return JSONResponse({"ok": True})

    __enter__ = lambda self: _start(self)  # noqa: E731
    __exit__ = lambda self, *_: _stop(self)  # noqa: E731


def _start(obj: Any) -> Any:
    obj.thread.start()
    deadline = time.monotonic() + 10
    while not obj.server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    return obj


def _stop(obj: Any) -> None:
    obj.server.should_exit = True
    obj.thread.join(timeout=10)


class TestUpstream:
    __test__ = False

    def __init__(self) -> None:
        self.answers: dict[str, str] = {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        app = Starlette(routes=[Route("/v1/chat/completions", self._chat, methods=["POST"])])
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="error",
                                                    access_log=False, lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    async def _chat(self, request: Request) -> Response:
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

    def __enter__(self) -> TestUpstream:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("test upstream did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
