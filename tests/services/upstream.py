"""A tiny OpenAI-compatible test upstream (Starlette under uvicorn in a thread): it answers each
chat request with ``answers[last user message]`` or a fixed default, so a test can make the model
"generate" a given text through the real gateway."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

DEFAULT = "你好，这是一个普通的回答。"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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

    async def _chat(self, request: Request) -> JSONResponse:
        body: dict[str, Any] = await request.json()
        last = str(body["messages"][-1].get("content", ""))
        text = self.answers.get(last, DEFAULT)
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
