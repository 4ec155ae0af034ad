"""`/v1/images/generations` and `/v1/audio/speech`: prompts moderated like chat, outputs labelled.

What the client receives is always labelled (GB 45438, Labelling Measures Art. 4–5): the signed
implicit ``AIGC`` metadata label, the explicit label (visible text on images, the 短长短短 cue
before speech) and, on images, the invisible watermark, each per ``gateway.media``. Labelling
that fails fails the request (502): unlabelled generated content is never handed out.

Images come back as ``b64_json`` whatever the client asked for: a URL would point at the
upstream's unlabelled file. When the upstream answers with URLs anyway, the gateway fetches them
(size-limited) and returns the labelled bytes. Image and audio outputs are not checked by the text
Guard (no image/audio classifier yet); the prompt is, before anything reaches the upstream.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from hegui.gateway.errors import GatewayError
from hegui.gateway.moderation import Outcome, bad_request, fail_closed_on_error, moderate, write_audit
from hegui.gateway.openai_routes import begin, state_of
from hegui.gateway.state import GatewayState, RequestContext
from hegui.gateway.upstream import upstream_error
from hegui.labels.aigc import LabelError
from hegui.policy import Action, Role

router = APIRouter()

# response_format → file name the labeller sees (its suffix picks ffmpeg's codec for the cue).
SPEECH_FORMATS = {"mp3": "speech.mp3", "wav": "speech.wav", "flac": "speech.flac", "opus": "speech.opus"}
SPEECH_TYPES = {"mp3": "audio/mpeg", "wav": "audio/wav", "flac": "audio/flac", "opus": "audio/ogg"}


def labeller_of(state: GatewayState) -> Any:
    """The provider's labeller (key loaded once per process, created on first use)."""
    lab = getattr(state, "_media_labeller", None)
    if lab is None:
        from hegui.labels.implicit import Labeller

        lab = Labeller.from_settings(state.settings)
        state._media_labeller = lab  # type: ignore[attr-defined]
    return lab


def label_failed(e: Exception) -> GatewayError:
    return GatewayError(502, "labelling_failed", f"生成内容无法添加标识，已拒绝返回：{str(e)[:200]}",
                        f"the generated content could not be labelled and was withheld: {str(e)[:200]}")  # fmt: skip


def content_policy(outcome: Outcome) -> GatewayError:
    """OpenAI's own answer to a refused image prompt: 400 ``content_policy_violation``."""
    zh, _, en = outcome.refusal.partition(" / ")
    return GatewayError(400, "content_policy_violation", zh or outcome.refusal, en or outcome.refusal)


async def moderate_prompt(state: GatewayState, ctx: RequestContext, text: str) -> tuple[Outcome, str]:
    """Check the prompt as chat input is checked: fail closed, strike hooks, audit a refusal.
    Returns the outcome and the text to send on (redacted where the policy says so)."""
    inp = await moderate(state, [text], Role.INPUT)
    if inp.error:
        await write_audit(state, ctx, status=503, inp=inp, out=None, detail="moderation_failed", raise_on_failure=False)
    fail_closed_on_error(state, inp)
    for hook in state.input_hooks:  # sanctions: a blocked input is a strike
        await hook(state, ctx, inp)
    if inp.action is Action.BLOCK:
        await write_audit(state, ctx, status=400, inp=inp, out=None, detail="input_blocked")
        raise content_policy(inp)
    return inp, inp.verdicts[0].redacted if inp.action is Action.REDACT else text


async def _call(state: GatewayState, ctx: RequestContext, inp: Outcome, coro: Any) -> Any:
    try:
        return await coro
    except GatewayError as e:
        state.metrics.upstream_errors.labels(e.code).inc()
        await write_audit(state, ctx, status=e.status, inp=inp, out=None, detail=e.code)
        raise


async def _fetch(state: GatewayState, url: str) -> bytes:
    """An image the upstream answered with as a URL, at most ``media.max_fetch_bytes``."""
    limit = state.settings.gateway.media.max_fetch_bytes
    if not url.startswith(("http://", "https://")):
        raise GatewayError(502, "upstream_bad_response", "上游返回的图片地址无效", "the upstream returned an invalid image URL")
    try:
        async with state.upstream.client.stream("GET", url) as resp:
            if resp.status_code >= 400:
                raise GatewayError(502, "upstream_error", f"无法获取上游生成的图片（HTTP {resp.status_code}）",
                                   f"the upstream's image could not be fetched (HTTP {resp.status_code})")  # fmt: skip
            buf = bytearray()
            async for chunk in resp.aiter_bytes():
                buf += chunk
                if len(buf) > limit:
                    raise GatewayError(502, "upstream_too_large", "上游生成的图片过大", "the upstream's image is too large")
            return bytes(buf)
    except httpx.HTTPError as e:
        raise upstream_error(e) from e


@router.post("/v1/images/generations")
async def images_generations(request: Request) -> Response:
    state = state_of(request)
    ctx, body = await begin(state, request, "/v1/images/generations")
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise bad_request("prompt 须为非空字符串", "'prompt' must be a non-empty string")
    target = state.upstream.target(ctx.model)
    inp, prompt = await moderate_prompt(state, ctx, prompt)
    up_body = {**body, "model": target.model, "prompt": prompt}
    if body.get("response_format") == "url":  # we must label the bytes, so ask for them
        up_body["response_format"] = "b64_json"
    data = await _call(state, ctx, inp, state.upstream.post_json(target, "/images/generations", up_body))
    items = data.get("data")
    if not isinstance(items, list) or not items:
        await write_audit(state, ctx, status=502, inp=inp, out=None, detail="upstream_bad_response")
        raise GatewayError(502, "upstream_bad_response", "上游未返回图片", "the upstream returned no image")
    media = state.settings.gateway.media
    labeller = labeller_of(state)
    labels: list[dict[str, Any]] = []
    out_items: list[dict[str, Any]] = []
    try:
        for item in items:
            if not isinstance(item, dict):
                raise LabelError("an image entry is not an object")
            if isinstance(item.get("b64_json"), str):
                try:
                    raw = base64.b64decode(item["b64_json"], validate=True)
                except (binascii.Error, ValueError):
                    raise LabelError("the upstream's b64_json is not valid Base64") from None
            elif isinstance(item.get("url"), str):
                raw = await _call(state, ctx, inp, _fetch(state, item["url"]))
            else:
                raise LabelError("an image entry has neither b64_json nor url")
            out, fmt, info, lab = await run_in_threadpool(
                _label_image, raw, labeller, media.explicit_images, media.watermark_images
            )
            entry = {k: v for k, v in item.items() if k not in ("b64_json", "url")}
            entry["b64_json"] = base64.b64encode(out).decode()
            out_items.append(entry)
            labels.append({"format": fmt, "ProduceID": lab.get("ProduceID"), "explicit": media.explicit_images,
                           "watermark": (info or {}).get("watermark", {}).get("payload")})  # fmt: skip
    except LabelError as e:
        await write_audit(state, ctx, status=502, inp=inp, out=None, detail="labelling_failed")
        raise label_failed(e) from None
    data["data"] = out_items
    data["hegui"] = {"action": inp.action.value, "risks": inp.risks, "stage": "input", "labels": labels}
    await write_audit(state, ctx, status=200, inp=inp, out=None, detail="ok")
    return JSONResponse(data, headers={"X-Request-Id": ctx.request_id})


def _label_image(raw: bytes, labeller: Any, explicit: bool, watermark: bool) -> tuple[bytes, str, Any, dict[str, str]]:
    from hegui.labels.files import label_bytes
    from hegui.labels.formats import detect

    h = detect(raw, "image")
    if h.kind != "image":
        raise LabelError(f"the upstream returned a {h.name} file, not an image")
    return label_bytes(raw, f"image.{h.name}", labeller, explicit=explicit, watermark=watermark)


@router.post("/v1/audio/speech")
async def audio_speech(request: Request) -> Response:
    state = state_of(request)
    ctx, body = await begin(state, request, "/v1/audio/speech")
    text = body.get("input")
    if not isinstance(text, str) or not text.strip():
        raise bad_request("input 须为非空字符串", "'input' must be a non-empty string")
    fmt = body.get("response_format") or "mp3"
    if fmt not in SPEECH_FORMATS:
        raise bad_request(
            f"response_format 须为 {', '.join(SPEECH_FORMATS)} 之一（{fmt} 无法携带 AIGC 标识）",
            f"response_format must be one of {', '.join(SPEECH_FORMATS)} ({fmt} cannot carry an AIGC label)",
        )
    target = state.upstream.target(ctx.model)
    inp, text = await moderate_prompt(state, ctx, text)
    up_body = {**body, "model": target.model, "input": text, "response_format": fmt}
    raw, _ctype = await _call(state, ctx, inp, state.upstream.post_bytes(target, "/audio/speech", up_body))
    media = state.settings.gateway.media
    try:
        out, _, _, lab = await run_in_threadpool(_label_audio, raw, SPEECH_FORMATS[fmt], labeller_of(state),
                                                 media.explicit_audio)  # fmt: skip
    except LabelError as e:
        await write_audit(state, ctx, status=502, inp=inp, out=None, detail="labelling_failed")
        raise label_failed(e) from None
    await write_audit(state, ctx, status=200, inp=inp, out=None, detail="ok")
    return Response(out, media_type=SPEECH_TYPES[fmt],
                    headers={"X-Request-Id": ctx.request_id, "X-Hegui-AIGC-ProduceID": lab.get("ProduceID", "")})  # fmt: skip


def _label_audio(raw: bytes, name: str, labeller: Any, explicit: bool) -> tuple[bytes, str, Any, dict[str, str]]:
    from hegui.labels.files import label_bytes
    from hegui.labels.formats import detect

    h = detect(raw, name)
    if h.name not in ("wav", "mp3", "flac", "ogg"):
        raise LabelError(f"the upstream returned a {h.name} file, not audio")
    return label_bytes(raw, name, labeller, explicit=explicit)
