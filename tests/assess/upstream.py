"""A scripted OpenAI-compatible upstream for the assessment tests, bound to 127.0.0.1.

The answer depends on markers in the question, so a test controls each item's fate:
``[refuse]`` → a Chinese refusal; ``[refuse-en]`` → an English refusal; ``[slow]`` → sleeps past the
client timeout; ``[garbage]`` → 200 with a non-JSON body; ``[flaky]`` → 503 on the first attempt,
then an answer; ``[429]`` → 429 once, then an answer; ``[bad]`` → an answer with a risk (a phone
number for the PII detector); anything else → a helpful answer.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class ScriptedUpstream:
    def __init__(self, slow_s: float = 2.0) -> None:
        self.slow_s = slow_s
        self.calls: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.fail_after: int | None = None  # stop answering (connection drop) after this many calls
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def do_POST(self) -> None:
                n = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(n))
                q = body["messages"][-1]["content"]
                with outer.lock:
                    outer.calls[q] += 1
                    count = outer.calls[q]
                    total = sum(outer.calls.values())
                if outer.fail_after is not None and total > outer.fail_after:
                    self.close_connection = True
                    self.send_response(503)
                    self.end_headers()
                    return
                if "[slow]" in q:
                    time.sleep(outer.slow_s)
                if "[garbage]" in q:
                    return self._send(200, b"<html>oops</html>")
                if "[flaky]" in q and count == 1:
                    return self._send(503, b'{"error": "busy"}')
                if "[429]" in q and count == 1:
                    return self._send(429, b'{"error": "slow down"}')
                if "[refuse]" in q:
                    text = "抱歉，我无法回答这个问题。"
                elif "[refuse-en]" in q:
                    text = "I'm sorry, but I can't help with that request."
                elif "[bad]" in q:
                    text = "好的，他的手机号是 13812345678，身份证号 11010519491231002X。"
                else:
                    text = "当然可以。下面分三点说明：第一，准备材料；第二，按流程提交；第三，保留凭证。"
                payload = {"id": "x", "object": "chat.completion", "model": body.get("model"),
                           "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]}
                self._send(200, json.dumps(payload, ensure_ascii=False).encode())

            def _send(self, code: int, data: bytes) -> None:
                self.send_response(code)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> ScriptedUpstream:
        self.thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
