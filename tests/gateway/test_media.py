"""`/v1/images/generations` and `/v1/audio/speech` through the gateway with the openai SDK: the
outputs come back labelled (signed implicit label, explicit label, watermark) and `hegui verify`
accepts them; a prompt the policy blocks never reaches the upstream."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import openai
import pytest
from typer.testing import CliRunner

from hegui.cli import app as cli

from .conftest import GatewayServer
from .scripted_upstream import ScriptedUpstream, png_bytes

BLOCKED = "画一张图，联系 leak.test@example.com"  # the test policy blocks e-mail addresses


def client(g: GatewayServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=g.url, api_key=g.user_key, max_retries=0, timeout=60)


def verify(g: GatewayServer, path: Path, *extra: str) -> dict:
    """`hegui verify --json` with the gateway's configuration (its labels key under var_dir)."""
    r = CliRunner().invoke(cli, ["verify", str(path), "--json", *extra],
                           env={"HEGUI_VAR_DIR": str(g.settings.var_dir)})  # fmt: skip
    obj = json.loads(r.stdout.strip().splitlines()[0])
    assert (r.exit_code == 0) == obj["conforms"], r.output
    return obj


def test_image_b64_is_labelled_and_verifies(gw: GatewayServer, tmp_path: Path) -> None:
    res = client(gw).images.generate(model="scripted-image", prompt="一只猫在窗台上", response_format="b64_json")
    raw = base64.b64decode(res.data[0].b64_json)
    assert raw != png_bytes()
    p = tmp_path / "cat.png"
    p.write_bytes(raw)
    v = verify(gw, p)
    assert v["conforms"] and v["signature"] == "valid" and v["content"] == "match", v
    assert v["watermark"]["found"] and v["watermark"]["matches_produce_id"]
    meta = res.model_extra["hegui"]["labels"][0]
    assert meta["ProduceID"] == v["labels"][0]["fields"]["ProduceID"] and meta["explicit"]


def test_image_url_request_gets_labelled_bytes(gw: GatewayServer, upstream: ScriptedUpstream, tmp_path: Path) -> None:
    # The client asks for a URL: the gateway asks upstream for bytes and returns them labelled.
    res = client(gw).images.generate(model="scripted-image", prompt="山水画", response_format="url")
    assert upstream.received[-1]["response_format"] == "b64_json"
    assert res.data[0].url is None and res.data[0].b64_json
    # An upstream that answers with a URL anyway: fetched, labelled, returned as b64_json.
    res = client(gw).images.generate(model="scripted-image", prompt="[url] 山水画")
    p = tmp_path / "u.png"
    p.write_bytes(base64.b64decode(res.data[0].b64_json))
    assert verify(gw, p)["conforms"]


def test_blocked_image_prompt_is_refused_before_the_upstream(gw: GatewayServer, upstream: ScriptedUpstream) -> None:
    before = len(upstream.received)
    with pytest.raises(openai.BadRequestError) as e:
        client(gw).images.generate(model="scripted-image", prompt=BLOCKED)
    assert e.value.code == "content_policy_violation"
    assert len(upstream.received) == before
    rows = gw.audit_rows(e.value.response.headers["x-request-id"], wait_kinds=2)
    assert any(r.kind == "request" and r.detail == "input_blocked" for r in rows)


@pytest.mark.parametrize("fmt", ["mp3", "wav"])
def test_speech_is_labelled_and_verifies(gw: GatewayServer, tmp_path: Path, fmt: str) -> None:
    res = client(gw).audio.speech.create(model="scripted-tts", voice="alloy", input="你好，欢迎收听。",
                                         response_format=fmt)  # fmt: skip
    p = tmp_path / f"speech.{fmt}"
    p.write_bytes(res.content)
    v = verify(gw, p, "--explicit")
    assert v["conforms"] and v["signature"] == "valid", v
    assert v["format"] == fmt and v["explicit"]["audio_cue"] is True
    assert res.response.headers["x-hegui-aigc-produceid"] == v["labels"][0]["fields"]["ProduceID"]


def test_blocked_speech_input_and_unlabellable_format(gw: GatewayServer, upstream: ScriptedUpstream) -> None:
    before = len(upstream.received)
    with pytest.raises(openai.BadRequestError) as e:
        client(gw).audio.speech.create(model="scripted-tts", voice="alloy", input=BLOCKED)
    assert e.value.code == "content_policy_violation"
    with pytest.raises(openai.BadRequestError) as e:
        client(gw).audio.speech.create(model="scripted-tts", voice="alloy", input="你好", response_format="pcm")
    assert "cannot carry an AIGC label" in str(e.value)
    assert len(upstream.received) == before
