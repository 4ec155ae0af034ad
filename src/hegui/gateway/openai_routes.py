"""OpenAI-compatible routes: chat completions, completions, models, moderations."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, suppress
from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from hegui.gateway import fastjson
from hegui.gateway.checks import settle_duties
from hegui.gateway.errors import GatewayError
from hegui.gateway.fastjson import FastJSONResponse as JSONResponse
from hegui.gateway.moderation import Outcome, bad_request, check, fail_closed_on_error, moderate, write_audit
from hegui.gateway.notices import add_notices, notice_texts
from hegui.gateway.state import GatewayState, RequestContext, log
from hegui.gateway.streaming import StreamModerator
from hegui.gateway.upstream import Target
from hegui.labels.text import HEADER, apply_label
from hegui.policy import Action, Role

router = APIRouter()


def state_of(request: Request) -> GatewayState:
    return request.app.state.hegui  # type: ignore[no-any-return]


async def read_json(state: GatewayState, request: Request) -> dict[str, Any]:
    """The request body as a JSON object; oversized → 413, malformed → 400."""
    limit = state.settings.gateway.max_body_bytes
    declared = request.headers.get("content-length")
    too_big = GatewayError(413, "body_too_large", f"请求体过大（上限 {limit} 字节）", f"request body too large (limit {limit} bytes)")
    if declared and declared.isdigit() and int(declared) > limit:
        raise too_big
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_big
    try:
        data = fastjson.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise bad_request("请求体不是有效的 JSON", "the request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise bad_request("请求体须为 JSON 对象", "the request body must be a JSON object")
    return data


async def run_pre_checks(state: GatewayState, ctx: RequestContext) -> None:
    """The `state.pre_checks` in order. A refusal of a known key (rate limit, sanction, identity…)
    is audited like any request; an unknown caller's is not (a flood of bad keys must not fill
    the log), but it is counted in metrics and logged with its request id."""
    try:
        for pre in state.pre_checks:
            await pre(state, ctx)
    except GatewayError as e:
        if ctx.key is not None:
            await write_audit(state, ctx, status=e.status, inp=None, out=None, detail=e.code, raise_on_failure=False)
        raise


async def begin(state: GatewayState, request: Request, route: str) -> tuple[RequestContext, dict[str, Any]]:
    ctx = request.state.ctx
    ctx.route = route
    await run_pre_checks(state, ctx)
    body = await read_json(state, request)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise bad_request("缺少 model 字段", "the 'model' field is required")
    ctx.model = model[:128]
    return ctx, body


# -- chat ---------------------------------------------------------------------------------------

def chat_texts(body: dict[str, Any]) -> list[tuple[int, int | None, str]]:
    """(message index, part index or None, text) for every text in the messages; validates shape."""
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs:
        raise bad_request("messages 须为非空数组", "'messages' must be a non-empty array")
    out: list[tuple[int, int | None, str]] = []
    for i, m in enumerate(msgs):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            raise bad_request(f"第 {i} 条消息格式错误", f"message {i} must be an object with a 'role'")
        c = m.get("content")
        if isinstance(c, str):
            out.append((i, None, c))
        elif isinstance(c, list):
            for j, part in enumerate(c):
                if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str):
                    out.append((i, j, part["text"]))
        elif c is not None:
            raise bad_request(f"第 {i} 条消息的 content 格式错误", f"message {i} has an invalid 'content'")
    return out


def apply_redactions(body: dict[str, Any], places: list[tuple[int, int | None, str]], outcome: Outcome) -> None:
    for (i, j, _), v in zip(places, outcome.verdicts, strict=True):
        if v.action is Action.REDACT:
            if j is None:
                body["messages"][i]["content"] = v.redacted
            else:
                body["messages"][i]["content"][j]["text"] = v.redacted


def meta(state: GatewayState, stage: str, outcome: Outcome | None, lang: str = "zh", labelled: bool = True) -> dict[str, Any]:
    prefix, suffix = state.settings.gateway.label.parts(lang)
    d: dict[str, Any] = {"action": outcome.action.value if outcome else "allow", "risks": outcome.risks if outcome else [],
                         "stage": stage}
    if labelled and (prefix or suffix):
        d["label"] = {"prefix": prefix, "suffix": suffix, "text": (prefix or suffix).strip(), "ai_generated": True}
    return d


def refusal_completion(ctx: RequestContext, text: str, outcome: Outcome, state: GatewayState, kind: str) -> dict[str, Any]:
    if kind == "chat":
        choice: dict[str, Any] = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "content_filter"}
        obj = "chat.completion"
    else:
        choice = {"index": 0, "text": text, "finish_reason": "content_filter", "logprobs": None}
        obj = "text_completion"
    return {
        "id": f"hegui-{ctx.request_id}", "object": obj, "created": int(time.time()), "model": ctx.model,
        "choices": [choice], "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        "hegui": meta(state, "input", outcome, labelled=False),
    }


def sse(obj: dict[str, Any] | str) -> bytes:
    if isinstance(obj, str):
        return f"data: {obj}\n\n".encode()
    return b"data: " + fastjson.dumps(obj) + b"\n\n"


def chunk(template: dict[str, Any], kind: str, text: str | None, finish: str | None = None,
          extra: dict[str, Any] | None = None) -> dict[str, Any]:
    if kind == "chat":
        choice: dict[str, Any] = {"index": 0, "delta": {"content": text} if text is not None else {}, "finish_reason": finish}
        obj = "chat.completion.chunk"
    else:
        choice = {"index": 0, "text": text or "", "finish_reason": finish, "logprobs": None}
        obj = "text_completion"
    out = {"id": template.get("id", ""), "object": obj, "created": template.get("created", int(time.time())),
           "model": template.get("model", ""), "choices": [choice]}
    if extra:
        out["hegui"] = extra
    return out


async def refusal_stream(ctx: RequestContext, text: str, outcome: Outcome, state: GatewayState, kind: str) -> AsyncIterator[bytes]:
    tpl = {"id": f"hegui-{ctx.request_id}", "model": ctx.model}
    if kind == "chat":
        yield sse({**chunk(tpl, kind, None), "choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]})
    yield sse(chunk(tpl, kind, text))
    yield sse(chunk(tpl, kind, None, "content_filter", meta(state, "input", outcome, labelled=False)))
    yield sse("[DONE]")


@router.post("/v1/chat/completions")
async def chat_completions(request: Request) -> Response:
    return await complete(request, "chat")


@router.post("/v1/completions")
async def completions(request: Request) -> Response:
    return await complete(request, "completions")


# POSTs to these paths are handled by `RequestContextMiddleware` itself, called first by the app
# (`context.GatewayApp`): the hot routes skip every FastAPI and Starlette layer, the outer
# server-error, telemetry and body-limit ones as well as the exception, exit-stack and routing layers
# (the handlers take nothing from FastAPI: no dependencies, no body model). The routes above stay
# registered for everything else (405 on other methods, the OpenAPI listing).
HOT_ROUTES = {"/v1/chat/completions": chat_completions, "/v1/completions": completions}


def prompt_texts(body: dict[str, Any]) -> list[str]:
    p = body.get("prompt")
    if isinstance(p, str):
        return [p]
    if isinstance(p, list) and p and all(isinstance(x, str) for x in p):
        return list(p)
    raise bad_request("prompt 须为字符串或字符串数组", "'prompt' must be a string or an array of strings")


async def complete(request: Request, kind: str) -> Response:
    """A (chat) completion. The duties' commit (PostgreSQL's second round trip) runs while the
    request goes on to the model; it is awaited before anything of an answer or a refusal is
    audited or released (`settle_duties`), and on any other exit all the same."""
    state = state_of(request)
    ctx = request.state.ctx
    ctx.defer_duties_commit = True
    try:
        response = await _complete(state, request, kind)
    except BaseException:
        if ctx.duties_commit is not None:  # left before an answer (an error): the commit still ends here
            with suppress(GatewayError):
                await settle_duties(state, ctx)
        raise
    await settle_duties(state, ctx)  # a no-op where the answer's path settled; else it fails closed here
    return response


async def _complete(state: GatewayState, request: Request, kind: str) -> Response:
    route = "/v1/chat/completions" if kind == "chat" else "/v1/completions"
    ctx, body = await begin(state, request, route)
    target = state.upstream.target(ctx.model)
    stream = bool(body.get("stream"))
    if kind == "chat":
        places = chat_texts(body)
        texts = [t for _, _, t in places]
    else:
        texts = prompt_texts(body)
    inp = await moderate(state, texts, Role.INPUT)
    if inp.error:
        await write_audit(state, ctx, status=503, inp=inp, out=None, detail="moderation_failed", raise_on_failure=False)
    fail_closed_on_error(state, inp)
    for hook in state.input_hooks:  # sanctions: a blocked input is a strike
        await hook(state, ctx, inp)
    if inp.action is Action.BLOCK:
        await settle_duties(state, ctx)
        await write_audit(state, ctx, status=200, inp=inp, out=None, detail="input_blocked")
        if stream:
            return StreamingResponse(refusal_stream(ctx, inp.refusal, inp, state, kind), media_type="text/event-stream",
                                     headers={"X-Request-Id": ctx.request_id})
        return JSONResponse(refusal_completion(ctx, inp.refusal, inp, state, kind), headers={"X-Request-Id": ctx.request_id})
    if inp.action is Action.REDACT:
        if kind == "chat":
            apply_redactions(body, places, inp)
        else:
            body["prompt"] = [v.redacted for v in inp.verdicts] if isinstance(body["prompt"], list) else inp.verdicts[0].redacted
    upstream_body = {**body, "model": target.model}
    path = "/chat/completions" if kind == "chat" else "/completions"
    if stream:
        return await start_stream(state, ctx, target, path, upstream_body, inp, kind)
    try:
        data = await state.upstream.post_json(target, path, upstream_body)
    except GatewayError as e:
        state.metrics.upstream_errors.labels(e.code).inc()
        await write_audit(state, ctx, status=e.status, inp=inp, out=None, detail=e.code)
        raise
    return await finish_answer(state, ctx, data, inp, kind)


def _answer_get(choice: dict[str, Any], kind: str) -> str | None:
    if kind == "chat":
        msg = choice.get("message")
        c = msg.get("content") if isinstance(msg, dict) else None
        return c if isinstance(c, str) else None
    t = choice.get("text")
    return t if isinstance(t, str) else None


def _answer_set(choice: dict[str, Any], kind: str, text: str) -> None:
    if kind == "chat":
        choice["message"]["content"] = text
    else:
        choice["text"] = text


async def finish_answer(state: GatewayState, ctx: RequestContext, data: dict[str, Any], inp: Outcome, kind: str) -> Response:
    await settle_duties(state, ctx)
    choices = data.get("choices") if isinstance(data.get("choices"), list) else []
    with_text = [(c, t) for c in choices if isinstance(c, dict) and (t := _answer_get(c, kind)) is not None]
    out = await moderate(state, [t for _, t in with_text], Role.OUTPUT)
    if out.error:
        await write_audit(state, ctx, status=503, inp=inp, out=out, detail="moderation_failed", raise_on_failure=False)
    fail_closed_on_error(state, out)
    lang = "zh"
    for (c, _), v in zip(with_text, out.verdicts, strict=True):
        lang = v.lang
        if v.action is Action.BLOCK:
            _answer_set(c, kind, v.refusal or out.refusal)
            c["finish_reason"] = "content_filter"
        else:
            text = v.redacted if v.action is Action.REDACT else _answer_get(c, kind) or ""
            _answer_set(c, kind, apply_label(text, state.settings.gateway.label, v.lang))
    if out.action is Action.BLOCK:
        state.metrics.stream_stops.inc()
    data["hegui"] = meta(state, "output", out if out.action is not Action.ALLOW else inp, lang)
    add_notices(ctx, data, kind, lang)  # rest reminders, the one-time disclosure (hegui.usage)
    await write_audit(state, ctx, status=200, inp=inp, out=out, detail="output_blocked" if out.action is Action.BLOCK else "ok")
    headers = {"X-Request-Id": ctx.request_id}
    if state.settings.gateway.label.enabled:
        headers[HEADER] = state.settings.gateway.label.header_value()
    return JSONResponse(data, headers=headers)


async def start_stream(state: GatewayState, ctx: RequestContext, target: Target, path: str, body: dict[str, Any],
                       inp: Outcome, kind: str) -> Response:
    stack = AsyncExitStack()
    try:
        resp = await stack.enter_async_context(state.upstream.stream(target, path, body))
    except GatewayError as e:
        await stack.aclose()
        state.metrics.upstream_errors.labels(e.code).inc()
        await write_audit(state, ctx, status=e.status, inp=inp, out=None, detail=e.code)
        raise
    try:
        await settle_duties(state, ctx)  # the model has answered (headers): before any of it goes out
    except GatewayError:
        await stack.aclose()
        raise
    cfg = state.settings.gateway
    mod = StreamModerator(lambda t: check(state, t, Role.OUTPUT), cfg.stream_mode, cfg.stream_buffer_chars,
                          cfg.stream_overlap_chars, cfg.stream_first_clause)
    headers = {"X-Request-Id": ctx.request_id, "X-Hegui-Stream-Mode": cfg.stream_mode.value}
    if cfg.label.enabled:
        headers[HEADER] = cfg.label.header_value()
    return StreamingResponse(relay(state, ctx, resp, mod, stack, inp, kind), media_type="text/event-stream", headers=headers)


def _delta(obj: dict[str, Any], kind: str) -> tuple[str, str | None]:
    choices = obj.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return "", None
    c = choices[0]
    if kind == "chat":
        d = c.get("delta") if isinstance(c.get("delta"), dict) else {}
        text = d.get("content")
    else:
        text = c.get("text")
    return (text if isinstance(text, str) else ""), c.get("finish_reason")


async def relay(state: GatewayState, ctx: RequestContext, resp: httpx.Response, mod: StreamModerator,
                stack: AsyncExitStack, inp: Outcome, kind: str) -> AsyncIterator[bytes]:
    """Forward the upstream stream through the moderator. The final check and the audit always run
    (in a task the client cannot cancel), however the stream ends."""
    tpl: dict[str, Any] = {"id": f"hegui-{ctx.request_id}", "model": ctx.model}
    label = state.settings.gateway.label
    ending = "incomplete"  # until proven otherwise: upstream closed early / client left
    finish: str | None = None
    lang = "zh"
    try:
        if kind == "chat":
            yield sse({**chunk(tpl, kind, None), "choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]})
        prefix = label.parts("zh")[0]
        if prefix:
            yield sse(chunk(tpl, kind, prefix))
        try:
            async for line in resp.aiter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    # Read on to the end of the body (just the closing chunk) so the connection goes
                    # back to the pool instead of being closed half-read.
                    ending = "done"
                    continue
                if ending == "done":
                    continue
                try:
                    obj = fastjson.loads(data)
                except ValueError:
                    ending = "upstream_bad_chunk"
                    break
                if not isinstance(obj, dict) or "error" in obj:
                    ending = "upstream_error"
                    break
                tpl.update({k: obj[k] for k in ("id", "created", "model") if k in obj})
                text, fin = _delta(obj, kind)
                finish = fin or finish
                step = await run_in_threadpool(mod.feed, text) if state.offload_checks else mod.feed(text)
                if step.release:
                    yield sse(chunk(tpl, kind, step.release))
                if step.stop is not None:
                    ending = "output_blocked"
                    break
        except httpx.TimeoutException:
            ending = "upstream_timeout"
        except httpx.HTTPError:
            ending = "upstream_closed"  # connection dropped or broken framing before [DONE]
        if ending != "output_blocked":
            # The text held back so far is checked and released even when the upstream failed.
            step = await run_in_threadpool(mod.finish) if state.offload_checks else mod.finish()
            if step.release:
                yield sse(chunk(tpl, kind, step.release))
            if step.stop is not None:
                ending = "output_blocked"
        if mod.stopped is not None:
            v = mod.stopped
            state.metrics.stream_stops.inc()
            text = v.refusal or "抱歉，后续内容无法提供。/ Sorry, the rest of this answer cannot be shown."
            yield sse(chunk(tpl, kind, ("\n" if mod.released else "") + text))
            yield sse(chunk(tpl, kind, None, "content_filter",
                            {"action": "error" if v.error else "block", "risks": v.risks, "stage": "output"}))
            yield sse("[DONE]")
            return
        if ending.startswith("upstream"):
            state.metrics.upstream_errors.labels(ending).inc()
            yield sse({"error": {"message": "上游模型服务在输出中途出错 / the upstream model server failed mid-stream",
                                 "type": "api_error", "code": ending}})
            yield sse("[DONE]")
            return
        lang = "en" if mod.released and all(ord(ch) < 0x2E80 for ch in mod.released) else "zh"
        for note in notice_texts(ctx, lang):  # rest reminders, the one-time disclosure
            yield sse(chunk(tpl, kind, "\n\n" + note))
        suffix = label.parts(lang)[1]
        if suffix:
            yield sse(chunk(tpl, kind, suffix))
        extra = meta(state, "output", None, lang)
        extra["complete"] = ending == "done"
        yield sse(chunk(tpl, kind, None, finish or "stop", extra))
        yield sse("[DONE]")
    except (asyncio.CancelledError, GeneratorExit):
        ending = "client_disconnected"
        raise
    finally:
        state.spawn(finalize(state, ctx, mod, stack, inp, ending))


async def finalize(state: GatewayState, ctx: RequestContext, mod: StreamModerator, stack: AsyncExitStack,
                   inp: Outcome, ending: str) -> None:
    """Close the upstream, run the final whole-answer check, write the audit rows."""
    with suppress(Exception):
        await stack.aclose()
    out = await moderate(state, [mod.text], Role.OUTPUT)
    detail = ending if ending != "done" else ("output_blocked" if out.action is Action.BLOCK else "ok")
    if ending == "done" and out.action is Action.BLOCK and mod.stopped is None:
        detail = "output_blocked_after_release"  # only possible beyond the overlap window
    await write_audit(state, ctx, status=200, inp=inp, out=out, detail=detail, raise_on_failure=False)
    log.info("stream finished", extra={"request_id": ctx.request_id, "route": ctx.route, "detail": detail,
                                       "latency_ms": round(ctx.elapsed_ms(), 2), "mode": mod.mode.value})


# -- models and moderations ---------------------------------------------------------------------

@router.get("/v1/models")
async def models(request: Request) -> Response:
    state = state_of(request)
    ctx = request.state.ctx
    ctx.route = "/v1/models"
    await run_pre_checks(state, ctx)
    cfg = state.settings.gateway
    if not state.upstream.configured:
        from hegui.gateway.errors import no_upstream

        raise no_upstream()
    listed: list[dict[str, Any]] = [{"id": name, "object": "model", "created": 0, "owned_by": "hegui"} for name in cfg.models]
    if cfg.upstream_url:
        data = await state.upstream.get_json(state.upstream.target("\x00any"), "/models")
        seen = {m["id"] for m in listed}
        listed += [m for m in data.get("data", []) if isinstance(m, dict) and m.get("id") not in seen]
    return JSONResponse({"object": "list", "data": listed})


@router.post("/v1/moderations")
async def moderations(request: Request) -> Response:
    state = state_of(request)
    ctx = request.state.ctx
    ctx.route = "/v1/moderations"
    await run_pre_checks(state, ctx)
    body = await read_json(state, request)
    raw = body.get("input")
    if isinstance(raw, str):
        texts = [raw]
    elif isinstance(raw, list) and raw and all(isinstance(x, str) for x in raw):
        texts = raw
    else:
        raise bad_request("input 须为字符串或字符串数组", "'input' must be a string or an array of strings")
    ctx.model = str(body.get("model") or "hegui-guard")[:128]
    outcome = await moderate(state, texts, Role.INPUT)
    fail_closed_on_error(state, outcome)
    results = []
    for v in outcome.verdicts:
        scores: dict[str, float] = {}
        for f in v.decisive:
            scores[f.risk] = max(scores.get(f.risk, 0.0), f.score)
        results.append({
            "flagged": v.action is not Action.ALLOW,
            "categories": {r: True for r in scores},
            "category_scores": scores,
            "hegui": {"action": v.action.value, "risks": v.risks, "lang": v.lang},
        })
    await write_audit(state, ctx, status=200, inp=outcome, out=None, detail="moderation")
    return JSONResponse({"id": f"modr-{uuid.uuid4().hex[:24]}", "model": ctx.model, "results": results},
                        headers={"X-Request-Id": ctx.request_id})
