"""`hegui check` as a user runs it: a real process, real stdin bytes, real exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

HEGUI = [sys.executable, "-c", "from hegui.cli import main; main()"]
BLOCKED = "法轮功"  # in the shipped keyword library
MOBILE = "13812345678"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Keywords and PII only (fast start, deterministic verdicts); keys kept in a temporary var/."""
    d = tmp_path_factory.mktemp("check")
    cfg = d / "hegui.yaml"
    cfg.write_text("guard: {detectors: [keywords, pii]}\n", encoding="utf-8")
    e = {k: v for k, v in os.environ.items() if not k.startswith("HEGUI_")}
    e.update(HEGUI_CONFIG=str(cfg), HEGUI_VAR_DIR=str(d / "var"), PYTHONIOENCODING="utf-8")
    return e


def run(env: dict[str, str], *args: str, stdin: bytes | None = None, timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*HEGUI, "check", *args], input=stdin, capture_output=True, env=env, timeout=timeout, check=False)


def lines(p: subprocess.CompletedProcess[bytes]) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(x) for x in p.stdout.decode("utf-8").splitlines()]


@pytest.mark.timeout(120)
def test_argument_allowed_redacted_blocked(env: dict[str, str]) -> None:
    p = run(env, "今天天气很好")
    assert p.returncode == 0, p.stderr
    (v,) = lines(p)
    assert v["action"] == "allow" and v["findings"] == [] and v["redacted"] == "今天天气很好"

    p = run(env, f"我的手机是{MOBILE}")
    assert p.returncode == 0  # redacted is not blocked
    (v,) = lines(p)
    assert v["action"] == "redact" and v["redacted"] == "我的手机是<MOBILE>"
    (f,) = v["findings"]
    assert {"risk", "start", "end", "score", "detector"} <= set(f)
    assert (f["risk"], f["start"], f["end"], f["detector"]) == ("pii.mobile", 5, 16, "pii")

    p = run(env, f"介绍一下{BLOCKED[0]}*{BLOCKED[1]} {BLOCKED[2]}")
    assert p.returncode == 1
    (v,) = lines(p)
    assert v["action"] == "block" and v["refusal"]


@pytest.mark.timeout(120)
def test_stdin_lines_and_jsonl_in_order(env: dict[str, str]) -> None:
    data = "\n".join(
        [
            "普通的一句话",
            json.dumps({"id": "a1", "text": f"电话{MOBILE}"}, ensure_ascii=False),
            json.dumps({"id": 7, "text": BLOCKED}, ensure_ascii=False),
            "",  # an empty line is an empty text
            "{not json, just a text}",
        ]
    ).encode()
    p = run(env, "-", stdin=data)
    assert p.returncode == 1, p.stderr  # something was blocked
    out = lines(p)
    assert [v["action"] for v in out] == ["allow", "redact", "block", "allow", "allow"]
    assert out[1]["id"] == "a1" and out[2]["id"] == 7
    assert out[1]["redacted"] == "电话<MOBILE>"


@pytest.mark.timeout(120)
def test_role_output(env: dict[str, str], tmp_path: Path) -> None:
    pol = tmp_path / "pol.yaml"
    pol.write_text("extends: interim-2023\nrules:\n  - {risk: pii.mobile, input: redact, output: block}\n", encoding="utf-8")
    assert run(env, "--policy", str(pol), f"手机{MOBILE}").returncode == 0
    p = run(env, "--policy", str(pol), "--role", "output", f"手机{MOBILE}")
    assert p.returncode == 1
    (v,) = lines(p)
    assert v["role"] == "output" and v["action"] == "block" and "安全审核" in v["refusal"]


@pytest.mark.timeout(120)
def test_pretty_is_a_table(env: dict[str, str]) -> None:
    e = dict(env, COLUMNS="160")
    p = run(e, "--pretty", f"手机{MOBILE}")
    assert p.returncode == 0
    text = p.stdout.decode()
    assert "redact" in text and "pii.mobile" in text and "<MOBILE>" in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text.splitlines()[0])


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "sideways", "x"], "--role must be"),
        (["--policy", "draft-2099", "x"], "unknown policy preset"),
        (["--config", "/nonexistent/hegui.yaml", "x"], "config file not found"),
    ],
)
def test_usage_errors_exit_2(env: dict[str, str], args: list[str], message: str) -> None:
    p = run(env, *args)
    assert p.returncode == 2
    assert message in p.stderr.decode()
    assert b"Traceback" not in p.stderr


@pytest.mark.timeout(120)
def test_unknown_detector_is_a_clear_error(env: dict[str, str], tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("guard: {detectors: [pii, nosuch]}\n", encoding="utf-8")
    p = run(env, "--config", str(cfg), "x")
    assert p.returncode == 2 and "unknown detector 'nosuch'" in p.stderr.decode()
    assert b"Traceback" not in p.stderr


# -- bad input -----------------------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_non_utf8_lines_are_reported_and_the_stream_goes_on(env: dict[str, str]) -> None:
    data = b"\xff\xfe\xfd\n" + "好的".encode() + b"\n" + "中文".encode("gb18030") + b"\n" + f"手机{MOBILE}".encode()
    p = run(env, "-", stdin=data)
    assert p.returncode == 2
    out = lines(p)
    assert len(out) == 4
    assert "not valid UTF-8" in out[0]["error"] and out[0]["line"] == 1
    assert out[1]["action"] == "allow"
    assert "not valid UTF-8" in out[2]["error"]
    assert out[3]["action"] == "redact"
    assert b"Traceback" not in p.stderr


@pytest.mark.timeout(120)
def test_non_utf8_argument(env: dict[str, str]) -> None:
    p = subprocess.run([*HEGUI, "check", b"\xff\xfe".decode("utf-8", "surrogateescape")], capture_output=True, env=env, timeout=120, check=False)
    assert p.returncode == 2 and b"not valid UTF-8" in p.stderr and b"Traceback" not in p.stderr


@pytest.mark.timeout(120)
def test_odd_texts_give_verdicts(env: dict[str, str]) -> None:
    rows = [
        json.dumps({"id": "\udc80", "text": "\ud800手机" + MOBILE}),  # lone surrogates, escaped in JSON
        json.dumps({"text": ""}),
        json.dumps({"text": "\x00\x01\x1b[31m\x7f"}),
        json.dumps({"text": 42}),  # not a string
        json.dumps({"id": 1}),  # no text
        "\u200b\u202e\ufeff",
        "\x00\x07 control \x1b",
        "\r",
    ]
    p = run(env, "-", stdin="\n".join(rows).encode("utf-8"))
    out = lines(p)  # every line is valid JSON (the echoed id comes back escaped)
    assert len(out) == len(rows)
    assert out[0]["action"] == "redact" and out[0]["redacted"] == "\ufffd手机<MOBILE>"
    assert out[0]["id"] == "\udc80"
    assert out[1]["action"] == "allow"
    assert out[2]["action"] == "allow"
    assert "text" in out[3]["error"] and "text" in out[4]["error"]
    assert all("action" in v for v in out[5:])
    assert p.returncode == 2  # lines 4 and 5 were errors
    assert b"Traceback" not in p.stderr


@pytest.mark.timeout(120)
def test_ten_megabyte_line_is_refused_not_crashed(env: dict[str, str]) -> None:
    big = ("今天天气很好。" * 500_000).encode()  # 10.5 MB, 3.5 M characters: over guard.max_chars
    p = run(env, "-", stdin=big + b"\n" + "好的".encode())
    out = lines(p)
    assert out[0]["action"] == "block" and "too large" in out[0]["error"]  # refused by Guard
    assert out[1]["action"] == "allow"
    assert p.returncode == 2


@pytest.mark.timeout(120)
def test_huge_line_is_skipped_without_reading_it_whole(env: dict[str, str]) -> None:
    e = dict(env, HEGUI_GUARD__MAX_CHARS="1000")  # lines over 13,024 bytes are not even decoded
    data = b"x" * 5_000_000 + b"\n" + "好的".encode() + b"\n" + b"a" * 900
    p = run(e, "-", stdin=data)
    out = lines(p)
    assert "too large" in out[0]["error"] and "5,000,001 bytes" in out[0]["error"] and out[0]["line"] == 1
    assert out[1]["action"] == "allow" and out[2]["action"] == "allow"
    assert p.returncode == 2


@pytest.mark.timeout(60)
def test_empty_stdin(env: dict[str, str]) -> None:
    p = run(env, "-", stdin=b"")
    assert p.returncode == 0 and p.stdout == b""


# -- streaming -----------------------------------------------------------------------------------


@pytest.mark.timeout(180)
def test_five_thousand_lines_in_one_process(env: dict[str, str]) -> None:
    base = ["帮我写一首关于春天的诗", "如何做红烧肉？", f"我的电话是{MOBILE}，请回电", "今天的作业是数学第三章", BLOCKED]
    data = "\n".join(base[i % len(base)] + f" #{i}" for i in range(5000)).encode()
    t0 = time.perf_counter()
    p = run(env, "-", stdin=data, timeout=170)
    elapsed = time.perf_counter() - t0
    out = lines(p)
    assert len(out) == 5000
    assert [v["action"] for v in out[:5]] == ["allow", "allow", "redact", "allow", "block"]
    assert p.returncode == 1
    # A loose floor (CI machines are shared): one process, far from one start per line.
    assert 5000 / elapsed > 100, f"{5000 / elapsed:.0f} lines/s"
