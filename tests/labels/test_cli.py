"""`hegui label apply/read/verify` and `hegui verify` on real files, batch over a directory."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hegui.cli import app

from .conftest import make_sample

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HEGUI_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("HEGUI_LABELS__PROVIDER_CODE", "001CLITEST")
    monkeypatch.delenv("HEGUI_CONFIG", raising=False)
    return tmp_path


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_apply_directory_then_verify(env: Path) -> None:
    src = env / "in"
    (src / "sub").mkdir(parents=True)
    files = [make_sample("a.png", src), make_sample("a.wav", src), make_sample("d.txt", src / "sub"),
             make_sample("d.docx", src)]  # fmt: skip
    before = {p: _sha(p) for p in files}
    r = runner.invoke(app, ["label", "apply", str(src), "--out", str(env / "out"), "--explicit", "--json"])
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    assert len(rows) == 4 and all(row["label"]["ContentProducer"] == "001CLITEST" for row in rows)
    assert {p: _sha(p) for p in files} == before  # originals untouched
    assert (env / "out" / "sub" / "d.txt").exists()  # tree kept
    r = runner.invoke(app, ["verify", str(env / "out"), "--json"])
    assert r.exit_code == 0, r.output
    res = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(res) == 4
    for v in res:
        assert {"file", "labels", "conforms", "problems"} <= set(v)
        assert v["conforms"] and v["signature"] == "valid"
    txt = (env / "out" / "sub" / "d.txt").read_text(encoding="utf-8")
    assert txt.startswith('{"AIGC":') and "人工智能生成" in txt


def test_verify_reports_tampering_and_exit_code(env: Path) -> None:
    make_sample("a.wav", env)
    assert runner.invoke(app, ["label", "apply", str(env / "a.wav"), "--out", str(env / "o")]).exit_code == 0
    out = env / "o" / "a.wav"
    data = bytearray(out.read_bytes())
    data[100] ^= 0xFF  # one sample changed
    out.write_bytes(bytes(data))
    r = runner.invoke(app, ["label", "verify", str(out)])
    assert r.exit_code == 1
    assert "BAD" in r.stdout and "content changed" in r.stdout


def test_read_and_unsupported_and_missing(env: Path) -> None:
    make_sample("a.png", env)
    (env / "x.bin").write_bytes(b"\x00\x01binary\x00" * 20)
    r = runner.invoke(app, ["label", "apply", str(env / "a.png"), str(env / "x.bin"), str(env / "nope.png"),
                            "--out", str(env / "o")])  # fmt: skip
    assert r.exit_code == 1
    assert "unsupported" in r.output and "no such file" in r.output
    assert (env / "o" / "a.png").exists() and not (env / "o" / "x.bin").exists()
    r = runner.invoke(app, ["label", "read", str(env / "o" / "a.png")])
    assert r.exit_code == 0 and '"ContentProducer":"001CLITEST"' in r.stdout
    r = runner.invoke(app, ["label", "read", "--json", str(env / "a.png")])
    assert json.loads(r.stdout)["labels"] == []


def test_out_required_in_place_and_sidecar(env: Path) -> None:
    p = make_sample("d.txt", env)
    r = runner.invoke(app, ["label", "apply", str(p)])
    assert r.exit_code == 2 and "--out" in r.output
    q = make_sample("d.md", env)
    before = _sha(q)
    assert runner.invoke(app, ["label", "apply", str(q), "--sidecar"]).exit_code == 0
    assert _sha(q) == before and (env / "d.md.aigc.json").exists()
    r = runner.invoke(app, ["verify", "--json", str(q)])
    v = json.loads(r.stdout)
    assert v["conforms"] and "sidecar" in v["warnings"][0]
    assert runner.invoke(app, ["label", "apply", str(p), "--in-place"]).exit_code == 0
    assert p.read_text(encoding="utf-8").startswith('{"AIGC":')


def test_public_key_verification(env: Path) -> None:
    make_sample("a.png", env)
    runner.invoke(app, ["label", "apply", str(env / "a.png"), "--out", str(env / "o")])
    r = runner.invoke(app, ["label", "public-key"])
    assert r.exit_code == 0 and len(r.stdout.strip()) == 128  # SM2 public key, hex
    (env / "pub.hex").write_text(r.stdout)
    r = runner.invoke(
        app, ["verify", str(env / "o" / "a.png"), "--public-key", str(env / "pub.hex"), "--json"]
    )
    assert r.exit_code == 0 and json.loads(r.stdout)["signature"] == "valid"


def test_verify_explicit_finds_audio_cue(env: Path) -> None:
    make_sample("a.mp3", env)
    runner.invoke(app, ["label", "apply", str(env / "a.mp3"), "--out", str(env / "o"), "--explicit"])
    r = runner.invoke(app, ["verify", "--explicit", "--json", str(env / "o" / "a.mp3"), str(env / "a.mp3")])
    labelled, plain = (json.loads(line) for line in r.stdout.splitlines())
    assert labelled["explicit"] == {"audio_cue": True} and labelled["conforms"]
    assert plain["explicit"] == {"audio_cue": False} and not plain["conforms"]  # no implicit label either
