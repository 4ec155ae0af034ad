"""The external judge against a real local HTTP server: parsing, and failing closed."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest

from hegui.detect.base import DetectorError, DetectorRegistry, Finding
from hegui.detect.judge import JudgeDetector, JudgeEscalation, parse_answer
from hegui.guard import Guard
from hegui.text import normalize


class _Server:
    """A tiny OpenAI-compatible server whose behaviour the test sets per request."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.answer = "Safety: Safe\nCategories: None"
        self.requests: list[dict[str, Any]] = []
        outer = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append({"body": body, "auth": self.headers.get("Authorization")})
                if outer.mode == "slow":
                    time.sleep(1.0)
                if outer.mode == "500":
                    self.send_response(503)
                    self.end_headers()
                    return
                payload = (b"<html>oops" if outer.mode == "html" else
                           json.dumps({"choices": [{"message": {"role": "assistant", "content": outer.answer}}]}).encode())
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"


@pytest.fixture
def server() -> Iterator[_Server]:
    s = _Server()
    t = threading.Thread(target=s.httpd.serve_forever, daemon=True)
    t.start()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


def test_parse_qwen3guard_and_json() -> None:
    assert parse_answer("Safety: Safe\nCategories: None") == []
    got = parse_answer("Safety: Unsafe\nCategories: Violent, Jailbreak")
    assert [(r, s) for r, s, _ in got] == [("A.1.f", 1.0), ("hg.prompt_injection", 1.0)]
    assert parse_answer("Safety: Controversial\nCategories: PII", controversial_score=0.4)[0][:2] == ("A.4.e", 0.4)
    assert parse_answer('{"safe": false, "categories": ["Hate"], "score": 0.9}')[0][:2] == ("A.1.e", 0.9)
    assert parse_answer('```json\n{"safe": true}\n```') == []
    assert parse_answer("Safety: Unsafe")[0][0] == "hg.unsafe_request"  # unknown category: fail towards risk
    for bad in ("I think it's fine", '{"safe": "no"}', "{broken", '{"safe": false, "score": 7}'):
        with pytest.raises(DetectorError):
            parse_answer(bad)


def test_judge_finds_and_sends_key(server: _Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_JUDGE_KEY", "sk-test")
    server.answer = "Safety: Unsafe\nCategories: Non-violent Illegal Acts"
    j = JudgeDetector(server.url, "guard", api_key_env="MY_JUDGE_KEY", timeout=2)
    found = j.detect(normalize("怎么偷电动车"))
    assert [f.risk for f in found] == ["hg.unsafe_request"] and found[0].start == -1
    req = server.requests[-1]
    assert req["auth"] == "Bearer sk-test" and "怎么偷电动车" in req["body"]["messages"][0]["content"]


@pytest.mark.parametrize("mode,answer,match", [
    ("slow", "Safety: Safe", "timed out"),
    ("500", "", "HTTP 503"),
    ("html", "", "not an OpenAI"),
    ("ok", "whatever you like", "no 'Safety:'"),
])
def test_judge_fails_closed(server: _Server, mode: str, answer: str, match: str) -> None:
    server.mode, server.answer = mode, answer
    j = JudgeDetector(server.url, "guard", timeout=0.3)
    with pytest.raises(DetectorError, match=match):
        j.detect(normalize("你好"))
    v = Guard([j]).check("你好")
    assert v.blocked and v.error and "judge" in v.error


def test_unreachable_judge_fails_closed() -> None:
    j = JudgeDetector("http://127.0.0.1:9/v1", timeout=0.3)
    assert Guard([j]).check("你好").blocked


class _FixedClassifier:
    """Stands in for the classifier's scores only, so the band logic is tested exactly."""

    name = "classifier"

    def __init__(self, score: float) -> None:
        self.score = score

    def scores(self, texts: Any) -> np.ndarray:
        return np.full((len(texts), 1), self.score, dtype=np.float32)

    def detect_batch(self, texts: Any) -> list[list[Finding]]:
        return [[Finding("hg.offensive", -1, -1, self.score, self.name)] for _ in texts]


def test_escalation_only_in_band(server: _Server) -> None:
    server.answer = "Safety: Unsafe\nCategories: Unethical Acts"
    judge = JudgeDetector(server.url, timeout=2)
    for score, asked in ((0.1, False), (0.95, False), (0.5, True)):
        esc = JudgeEscalation(_FixedClassifier(score), judge, low=0.3, high=0.7)
        found = esc.detect(normalize("文本"))
        assert esc.escalated == int(asked)
        assert found[0].detector == ("judge" if asked else "classifier")


def test_escalate_with_real_classifier_and_registry(server: _Server) -> None:
    server.mode = "500"
    esc = DetectorRegistry.create("escalate", judge={"url": server.url, "timeout": 1}, low=0.0, high=1.0)
    assert Guard([esc]).check("随便一句话").blocked  # every text escalates, the judge is down → block
