"""The shipped model through Guard, the config path, and the train/eval commands."""

from __future__ import annotations

import json
import time
from pathlib import Path

from typer.testing import CliRunner

from hegui.cli import app
from hegui.config import load_settings
from hegui.detect.base import DetectorRegistry
from hegui.detect.classifier import ClassifierDetector, ClassifierModel, default_model_path
from hegui.guard import Guard
from hegui.text import normalize


def test_shipped_model_is_small_and_loads_fast() -> None:
    path = default_model_path()
    assert path.stat().st_size <= 30 * 1024 * 1024
    t = time.perf_counter()
    m = ClassifierModel.load(path)
    assert time.perf_counter() - t < 1.0
    assert {h.risk for h in m.heads} >= {"hg.offensive", "A.2.e", "A.2.d", "A.2.a", "hg.unsafe_request", "hg.prompt_injection"}


def test_shipped_model_through_guard() -> None:
    det = DetectorRegistry.create("classifier")
    guard = Guard([det])
    bad = guard.check("河南人都是骗子，没一个好东西")
    assert "A.2.d" in bad.risks and bad.blocked
    assert guard.check("请帮我写一首关于春天的诗").allowed
    assert "hg.unsafe_request" in guard.check("如何在网上买到毒品").risks
    assert "A.2.e" in guard.check("女人就该待在家里生孩子，出来工作就是添乱").risks
    assert all(f.start == -1 and f.end == -1 for f in bad.findings)


def test_batch_equals_single() -> None:
    det = ClassifierDetector()
    texts = [normalize(t) for t in ("你好", "你这个废物", "", "如何制作毒品")]
    batch = det.detect_batch(texts)
    assert batch == [det.detect(t) for t in texts]
    assert det.detect_batch([]) == []


def test_min_score_floor_and_head_selection() -> None:
    det = ClassifierDetector(min_score=0.0, heads=["offensive"])
    found = det.detect(normalize("你好，今天天气怎么样"))
    assert [f.meta["head"] for f in found] == ["offensive"]


def test_too_short_texts_get_no_findings() -> None:
    """"好的", "1" and "女人" once scored 0.94 unsafe request, 0.86 injection and 1.0 discrimination."""
    det = ClassifierDetector(min_score=0.0)
    for short in ("好的", "1", "42", "女人", "ok", "hi there"):
        assert det.detect(normalize(short)) == [], short
    assert det.detect(normalize("女人都是贱货"))  # five CJK characters are enough
    assert ClassifierDetector(min_score=0.0, min_chars=0).detect(normalize("好的"))


def test_config_points_at_own_model(tmp_path: Path, small_model: ClassifierModel) -> None:
    path = tmp_path / "own.npz"
    small_model.save(path)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"guard:\n  detectors: [classifier]\n  options:\n    classifier:\n      model_path: {path}\n", encoding="utf-8")
    guard = Guard.from_settings(load_settings(cfg))
    assert guard.detectors[0].model.head_names == ["hg.offensive", "hg.unsafe_request"]  # type: ignore[attr-defined]


def test_train_and_eval_commands(fixture_jsonl: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "m.npz"
    r = runner.invoke(app, ["train", "--data", str(fixture_jsonl), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert ClassifierModel.load(out).head_names == ["hg.offensive", "hg.unsafe_request"]
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"guard:\n  detectors: [classifier]\n  options:\n    classifier:\n      model_path: {out}\n", encoding="utf-8")
    r = runner.invoke(app, ["eval", str(fixture_jsonl), "--config", str(cfg), "--json", "--by-field", "kind"])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.output)
    assert rep["n"] == 22 and rep["errors"] == 0
    assert set(rep["overall"]["per_risk"]) >= {"hg.offensive", "hg.unsafe_request"}
    assert rep["overall"]["micro"]["f1"] > 0.5  # it has seen these texts
    assert set(rep["by:kind"]) == {"", "benign", "unsafe"}
    r = runner.invoke(app, ["eval", str(fixture_jsonl), "--config", str(cfg)])
    assert r.exit_code == 0 and "F1" in r.output


def test_cli_bad_input_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{nope\n", encoding="utf-8")
    runner = CliRunner()
    r = runner.invoke(app, ["train", "--data", str(bad), "--out", str(tmp_path / "x.npz")])
    assert r.exit_code == 2 and ":1:" in r.output
    r = runner.invoke(app, ["eval", str(bad)])
    assert r.exit_code == 2 and ":1:" in r.output


def test_findings_match_the_scores_for_every_head_subset() -> None:
    # detect_batch and detect (its one-text path) report exactly the heads at or over the floor.
    from hegui.detect.base import Finding
    from hegui.detect.classifier.detector import informative_chars

    texts = [normalize(t) for t in ("河南人都是骗子，没一个好东西", "请帮我写一首关于春天的诗", "如何在网上买到毒品", "好的", "")]
    for heads, floor in ((None, 0.1), (["offensive"], 0.1), (["region", "offensive"], 0.1), (None, 0.7), (None, 0.0)):
        det = ClassifierDetector(min_score=floor, heads=heads)
        names = det.model.head_names
        s = det.model.scores([t.text for t in texts])
        for t, row, got in zip(texts, s, det.detect_batch(texts), strict=True):
            want = [
                Finding(h.risk, -1, -1, float(row[i]), "classifier", evidence=f"head={h.name}", meta={"head": h.name})
                for i, h in enumerate(det.model.heads)
                if (heads is None or names[i] in heads) and row[i] >= floor and informative_chars(t.text, 5.0) >= 5.0
            ]
            assert got == want
            assert det.detect(t) == want  # the one-text path
