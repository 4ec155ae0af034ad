"""A scripted OpenAI-compatible model server for the gateway tests and `bench/gateway.py`.

The only stand-in allowed (no LLM runs here). It is a real HTTP server (Starlette under uvicorn,
in a thread, on 127.0.0.1) so the gateway's httpx client, pooling, timeouts and SSE parsing are
exercised for real. The answer depends on markers in the last message (or the prompt):

``[slow]`` sleeps ``slow_s`` first; ``[500]`` answers HTTP 500; ``[close]`` streams two deltas and
drops the connection; ``[miderr]`` streams two deltas then an error object; ``[stall]`` goes silent after two deltas; ``[email]`` answers
with an e-mail address in its third sentence (blocked by the test policy); ``[pii]`` answers with
an ID number, a mobile number and a bank card; ``[long]`` streams 400 deltas 10 ms apart;
``[bench]`` gives a typical five-sentence answer (``delay_s`` between deltas when streaming,
``latency_s`` before a whole answer); ``[lat=S]`` makes this request wait S seconds instead of
``latency_s`` before a whole answer, or before the first delta of a stream (the benchmark's
clients draw each request's S, so they do not march in lockstep, and subtract it); model
``nope`` is unknown (404). Every request body is kept in ``received``.

``/v1/images/generations`` returns a real PNG (a synthetic natural-looking 320×288 image) as
``b64_json``, or as a ``url`` served by this server when asked for ``url`` or when the prompt
has ``[url]``; ``/v1/audio/speech`` returns real WAV (numpy) or MP3 (ffmpeg) speech-like audio.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from hegui.testing import ThreadedServer, free_port

__all__ = ["ScriptedUpstream", "free_port"]

ID_CARD = "11010519491231002X"  # valid check digit
MOBILE = "13812345678"
BANK_CARD = "6222020200112233446"  # passes Luhn
EMAIL = "leak.test@example.com"
_LAT = re.compile(r"\[lat=(\d{1,3}(?:\.\d{1,6})?)\]")

DEFAULT_ANSWER = "你好！这是测试回答。祝你愉快。"
EMAIL_ANSWER = f"第一句是正常的。第二句也正常。请联系 {EMAIL} 获取资料。最后一句不应出现。"
PII_ANSWER = f"好的。他的身份证号是{ID_CARD}，手机号 {MOBILE}，银行卡号 {BANK_CARD}。"
LONG_ANSWER = "这是一段很长的回答。" * 80
# A typical short answer for the benchmark: 17 characters before the first sentence ends.
BENCH_ANSWER = "好的，这是关于你的问题的简要说明。首先，请准备好相关材料。其次，按照流程提交申请。最后，保留好所有凭证以备查验。"


_MEDIA: dict[str, bytes] = {}


def png_bytes() -> bytes:
    """A real PNG with natural-image statistics (the watermark needs texture, as in a real output)."""
    if "png" not in _MEDIA:
        import io

        from PIL import Image

        from hegui.labels.testimages import natural_image

        buf = io.BytesIO()
        Image.fromarray(natural_image(320, 288, seed=42)).save(buf, "PNG")
        _MEDIA["png"] = buf.getvalue()
    return _MEDIA["png"]


def wav_bytes() -> bytes:
    """1.5 s of speech-like audio (gliding harmonics with a syllable envelope), 24 kHz 16-bit mono."""
    if "wav" not in _MEDIA:
        import io
        import wave

        import numpy as np

        sr = 24000
        t = np.arange(int(sr * 1.5)) / sr
        f0 = 140 + 30 * np.sin(2 * np.pi * 1.3 * t)
        phase = 2 * np.pi * np.cumsum(f0) / sr
        voice = sum(np.sin(k * phase) / k for k in range(1, 6))
        env = np.clip(np.sin(2 * np.pi * 3 * t), 0, None) ** 0.5
        pcm = (voice * env * 6000).astype("<i2")
        buf = io.BytesIO()
        with wave.open(buf, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(sr)
            w.writeframes(pcm.tobytes())
        _MEDIA["wav"] = buf.getvalue()
    return _MEDIA["wav"]


def mp3_bytes() -> bytes:
    if "mp3" not in _MEDIA:
        import subprocess

        from hegui.labels.formats.ffmedia import ffmpeg_exe

        r = subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "wav", "-i", "pipe:0", "-c:a", "libmp3lame",
                            "-b:a", "64k", "-f", "mp3", "pipe:1"], input=wav_bytes(), capture_output=True,
                           check=True, timeout=60)
        _MEDIA["mp3"] = r.stdout
    return _MEDIA["mp3"]


def _last_text(body: dict[str, Any]) -> str:
    msgs = body.get("messages")
    if isinstance(msgs, list) and msgs:
        c = msgs[-1].get("content")
        if isinstance(c, list):
            return " ".join(p.get("text", "") for p in c if isinstance(p, dict))
        return str(c or "")
    p = body.get("prompt")
    return " ".join(p) if isinstance(p, list) else str(p or "")


class ScriptedUpstream(ThreadedServer):
    """Start with ``with ScriptedUpstream() as up:``; ``up.url`` is the ``/v1`` base URL."""

    def __init__(self, *, slow_s: float = 3.0, delta_chars: int = 3, delay_s: float = 0.0, latency_s: float = 0.0) -> None:
        self.slow_s, self.delta_chars, self.delay_s = slow_s, delta_chars, delay_s
        self.latency_s = latency_s  # a non-streaming answer takes this long (a model's generation time)
        self.received: list[dict[str, Any]] = []
        app = Starlette(routes=[
            Route("/v1/chat/completions", self._complete, methods=["POST"]),
            Route("/v1/completions", self._complete, methods=["POST"]),
            Route("/v1/models", self._models, methods=["GET"]),
            Route("/v1/images/generations", self._image, methods=["POST"]),
            Route("/v1/audio/speech", self._speech, methods=["POST"]),
            Route("/files/image.png", self._image_file, methods=["GET"]),
        ])
        super().__init__(app, name="scripted upstream", stop_timeout_s=5, lifespan="off", backlog=2048,
                         timeout_keep_alive=30)
        self.url = f"{self.base}/v1"

    async def _models(self, request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [
            {"id": "scripted", "object": "model", "created": 0, "owned_by": "test"},
            {"id": "scripted-2", "object": "model", "created": 0, "owned_by": "test"},
        ]})

    async def _image(self, request: Request) -> Response:
        import base64

        body = await request.json()
        self.received.append(body)
        n = int(body.get("n") or 1)
        if body.get("response_format") == "url" or "[url]" in str(body.get("prompt")):
            items = [{"url": f"http://127.0.0.1:{self.port}/files/image.png"} for _ in range(n)]
        else:
            items = [{"b64_json": base64.b64encode(png_bytes()).decode(), "revised_prompt": body.get("prompt")}
                     for _ in range(n)]
        return JSONResponse({"created": int(time.time()), "data": items})

    async def _image_file(self, request: Request) -> Response:
        return Response(png_bytes(), media_type="image/png")

    async def _speech(self, request: Request) -> Response:
        body = await request.json()
        self.received.append(body)
        fmt = body.get("response_format") or "mp3"
        if fmt == "wav":
            return Response(wav_bytes(), media_type="audio/wav")
        if fmt == "mp3":
            return Response(mp3_bytes(), media_type="audio/mpeg")
        return JSONResponse({"error": {"message": f"format {fmt} not scripted", "type": "invalid_request_error"}},
                            status_code=400)

    async def _complete(self, request: Request) -> Response:
        body = await request.json()
        self.received.append(body)
        chat = request.url.path.endswith("/chat/completions")
        q = _last_text(body)
        if body.get("model") == "nope":
            return JSONResponse({"error": {"message": "model 'nope' not found", "type": "invalid_request_error",
                                           "code": "model_not_found"}}, status_code=404)
        if "[slow]" in q:
            await asyncio.sleep(self.slow_s)
        if "[500]" in q:
            return JSONResponse({"error": {"message": "boom", "type": "server_error"}}, status_code=500)
        answer = (EMAIL_ANSWER if "[email]" in q else PII_ANSWER if "[pii]" in q
                  else LONG_ANSWER if "[long]" in q else BENCH_ANSWER if "[bench]" in q else DEFAULT_ANSWER)
        m = _LAT.search(q)
        lat = float(m.group(1)) if m else None
        if not body.get("stream"):
            wait = self.latency_s if lat is None else lat
            if wait:
                await asyncio.sleep(wait)
            choice: dict[str, Any] = ({"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}
                                      if chat else {"index": 0, "text": answer, "finish_reason": "stop", "logprobs": None})
            return JSONResponse({"id": "up-1", "object": "chat.completion" if chat else "text_completion",
                                 "created": int(time.time()), "model": body.get("model"), "choices": [choice],
                                 "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}})
        delay = 0.01 if "[long]" in q else self.delay_s
        if lat is not None:
            await asyncio.sleep(lat)  # "prefill": the wait before the first token
        return StreamingResponse(self._stream(answer, chat, body.get("model"), q, delay), media_type="text/event-stream")

    async def _stream(self, answer: str, chat: bool, model: Any, q: str, delay: float) -> AsyncIterator[bytes]:
        def ev(obj: Any) -> bytes:
            return f"data: {obj if isinstance(obj, str) else json.dumps(obj, ensure_ascii=False)}\n\n".encode()

        def delta(text: str | None, finish: str | None = None) -> dict[str, Any]:
            c: dict[str, Any] = ({"index": 0, "delta": {"content": text} if text is not None else {}, "finish_reason": finish}
                                 if chat else {"index": 0, "text": text or "", "finish_reason": finish})
            return {"id": "up-s", "object": "chat.completion.chunk" if chat else "text_completion",
                    "created": 1, "model": model, "choices": [c]}

        if chat:
            yield ev({**delta(None), "choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]})
        pieces = [answer[i : i + self.delta_chars] for i in range(0, len(answer), self.delta_chars)]
        for n, p in enumerate(pieces):
            if n == 2 and "[close]" in q:
                raise ConnectionResetError("scripted early close")  # uvicorn drops the connection
            if n == 2 and "[stall]" in q:
                await asyncio.sleep(self.slow_s)  # silent mid-stream, past the gateway's read timeout
            if n == 2 and "[miderr]" in q:
                yield ev({"error": {"message": "model crashed", "type": "server_error"}})
                return
            if delay:
                await asyncio.sleep(delay)
            yield ev(delta(p))
        yield ev(delta(None, "stop"))
        yield ev("[DONE]")


def main() -> None:
    """Run the upstream in its own process (``bench/gateway.py`` does, so the load generator and
    the upstream do not share one interpreter lock)."""
    import argparse

    ap = argparse.ArgumentParser(description="scripted OpenAI-compatible upstream")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--delay", type=float, default=0.0, help="seconds between streamed deltas")
    ap.add_argument("--latency", type=float, default=0.0, help="seconds before a non-streaming answer")
    a = ap.parse_args()
    up = ScriptedUpstream(delay_s=a.delay, latency_s=a.latency)
    up.port, up.url = a.port, f"http://127.0.0.1:{a.port}/v1"
    up.server.config.port = a.port
    up.server.run()


if __name__ == "__main__":
    main()
