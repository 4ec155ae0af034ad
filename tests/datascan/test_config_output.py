"""The ``scan`` settings section (YAML, environment, command line precedence) and Parquet annotations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from hegui.config import Settings
from hegui.datascan import Pipeline, ReaderOptions, ScanOptions, default_steps, scan
from hegui.datascan.annotations import SCHEMA, annotations_target, read_annotations
from hegui.datascan.config import ScanConfig
from hegui.datascan.steps import GuardStep, MinHashStep, SignalsStep


def _lines(p: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in p.read_text(encoding="utf-8").splitlines()]


def test_scan_section_from_yaml_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "hegui.yaml"
    cfg.write_text(
        "scan:\n  detectors: [pii]\n  reject_flags: [empty]\n  quality: {min_chars: 50}\n"
        "  minhash: {bands: 8, rows: 16}\n  review_size: 123\n  output_format: parquet\n", encoding="utf-8")
    monkeypatch.setenv("HEGUI_CONFIG", str(cfg))
    monkeypatch.setenv("HEGUI_SCAN__SEED", "7")
    s = Settings(var_dir=tmp_path / "var")
    assert s.scan.review_size == 123 and s.scan.seed == 7 and s.scan.output_format == "parquet"
    signals, guard, minhash = default_steps(s)
    assert isinstance(signals, SignalsStep) and signals.reject_flags == ("empty",)
    assert signals.thresholds["min_chars"] == 50
    assert isinstance(guard, GuardStep) and [d.name for d in guard.guard.detectors] == ["pii"]
    assert s.guard.detectors != ["pii"]  # the gateway's own list is untouched
    assert isinstance(minhash, MinHashStep) and (minhash.bands_n, minhash.rows) == (8, 16)


@pytest.mark.parametrize("bad", [
    {"minhash": {"bands": 20, "rows": 10}},  # 200 > 128 permutations
    {"auto_fraction": 0},
    {"review_size": -1},
    {"reject_flags": ["nonsense"]},
    {"output_format": "csv"},
    {"unknown_key": 1},
])
def test_bad_scan_settings_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ScanConfig(**bad)


def test_thresholds_change_flags_and_the_resume_fingerprint(tmp_path: Path) -> None:
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("\n".join(json.dumps({"id": f"d{i}", "text": t}, ensure_ascii=False) for i, t in
                                enumerate(["短文本。", "这是一段足够长的普通中文文本，用来检查最短长度的阈值是否生效。"])) + "\n",
                      encoding="utf-8")
    out = tmp_path / "out"

    def run(min_chars: int) -> list[dict[str, Any]]:
        s = Settings(var_dir=tmp_path / "var", scan={"quality": {"min_chars": min_chars}, "detectors": ["pii"]})
        p = Pipeline(default_steps(s), ReaderOptions(id_field="id"), review_n=2)
        scan([str(corpus)], out, p, settings=s, options=ScanOptions(workers=1))
        return _lines(out / "annotations.jsonl")

    assert [("too_short" in a["flags"]) for a in run(10)] == [True, False]
    # Same output directory: a threshold change must not resume from the old checkpoints.
    assert [("too_short" in a["flags"]) for a in run(100)] == [True, True]


def test_annotations_target() -> None:
    out = Path("/o")
    assert annotations_target(out, None, None) == (out / "annotations.jsonl", "jsonl")
    assert annotations_target(out, None, None, "parquet") == (out / "annotations.parquet", "parquet")
    assert annotations_target(out, "ann.parquet", None) == (out / "ann.parquet", "parquet")
    assert annotations_target(out, "/x/a.jsonl", None, "parquet") == (Path("/x/a.jsonl"), "jsonl")
    assert annotations_target(out, "ann", "parquet") == (out / "ann.parquet", "parquet")
    for name, fmt in (("a.parquet", "jsonl"), ("a.csv", None), (None, "xml")):
        with pytest.raises(ValueError):
            annotations_target(out, name, fmt)


def test_parquet_annotations_hold_the_jsonl_records(corpus: Path, tmp_path: Path) -> None:
    s = Settings(var_dir=tmp_path / "var")

    def run(out: Path, fmt: str) -> Path:
        p = Pipeline(default_steps(s), ReaderOptions(id_field="id"), review_n=20)
        res = scan([str(corpus)], out, p, settings=s, options=ScanOptions(workers=1, annotations_format=fmt))
        return res.files["annotations"]

    jl = run(tmp_path / "j", "jsonl")
    pqf = run(tmp_path / "p", "parquet")
    assert pqf == tmp_path / "p" / "annotations.parquet" and pqf.exists()
    assert not (tmp_path / "p" / "annotations.jsonl").exists()
    assert not list((tmp_path / "p").glob("*.tmp"))
    table = pq.read_table(pqf)
    assert table.schema.equals(SCHEMA)
    want = _lines(jl)
    got = list(read_annotations(pqf))
    assert len(got) == len(want) == 123
    assert got == want  # same records, same order, optional keys absent when null
    # Things a data team queries directly.
    assert table.column("illegal").to_pylist() == [a["illegal"] for a in want]
    with_pii = [a["id"] for a in want if a["pii"]]
    assert with_pii and [r["id"] for r in got if r["pii"]] == with_pii
    assert any(a.get("encoding") == "gb18030" for a in got)
    # Reports agree whatever the annotations format.
    rj = json.loads((tmp_path / "j" / "report.json").read_text(encoding="utf-8"))
    rp = json.loads((tmp_path / "p" / "report.json").read_text(encoding="utf-8"))
    assert rj["overall"] == rp["overall"]


def test_cli_config_and_parquet_option(corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from hegui.cli import app

    cfg = tmp_path / "hegui.yaml"
    cfg.write_text("scan:\n  id_field: id\n  review_size: 25\n  workers: 1\n  detectors: [pii]\n", encoding="utf-8")
    monkeypatch.setenv("HEGUI_VAR_DIR", str(tmp_path / "var"))
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["scan", str(corpus), "--out", str(out), "-q", "--config", str(cfg),
                                 "--annotations", "ann.parquet"])
    assert r.exit_code in (0, 1), r.output
    rows = list(read_annotations(out / "ann.parquet"))
    assert len(rows) == 123 and rows[0]["id"] == "d0"  # id_field came from the config
    rep = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert rep["tc260"]["manual_review"]["sample_size"] == 25
    # The command line wins over the config.
    r = CliRunner().invoke(app, ["scan", str(corpus), "--out", str(tmp_path / "o2"), "-q", "--config", str(cfg),
                                 "--review-size", "10", "--annotations-format", "jsonl"])
    assert r.exit_code in (0, 1), r.output
    assert json.loads((tmp_path / "o2" / "report.json").read_text())["tc260"]["manual_review"]["sample_size"] == 10
    assert (tmp_path / "o2" / "annotations.jsonl").exists()
    r = CliRunner().invoke(app, ["scan", str(corpus), "--out", str(out), "-q", "--annotations", "a.parquet",
                                 "--annotations-format", "jsonl"])
    assert r.exit_code == 2 and "does not match" in r.output


def test_report_templates_from_the_bytecode_cache(corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A report rendered from cached template bytecode (a later process) is the one compiled
    from source; a damaged cache file or an unsafe cache directory only means compiling again."""
    import importlib
    import os
    import shutil
    import tempfile

    from hegui.datascan.report import build_report

    rr = importlib.import_module("hegui.reports.render")  # the module (the package exports the function)

    settings = Settings(var_dir=tmp_path / "var")
    res = scan([str(corpus)], tmp_path / "out", Pipeline(default_steps(settings), ReaderOptions(id_field="id"), review_n=20),
               settings=settings, options=ScanOptions(workers=1))
    rep = build_report(res.report)
    rep.generated_at = "2026-01-01T00:00:00+00:00"
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))  # where jinja puts its cache
    (tmp_path / "tmp").mkdir()

    def fresh(fmt: str) -> str:  # as a new process would: no compiled templates in memory
        rr._env.cache_clear()
        return rr.render(rep, fmt)

    monkeypatch.setattr(rr, "_bytecode_cache", lambda autoescape: None)
    want = {fmt: fresh(fmt) for fmt in ("html", "md")}
    monkeypatch.undo()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    assert {fmt: fresh(fmt) for fmt in ("html", "md")} == want  # compiled, cache written
    cache = tmp_path / "tmp" / f"_jinja2-cache-{os.getuid()}"
    files = sorted(cache.glob("__hegui_report_*.cache"))
    assert {f.name.rsplit(".", 2)[1] for f in files} == {"html", "text"}
    assert {fmt: fresh(fmt) for fmt in ("html", "md")} == want  # from the cache
    for f in files:
        f.write_bytes(f.read_bytes()[:40])  # truncated
    assert {fmt: fresh(fmt) for fmt in ("html", "md")} == want
    shutil.rmtree(cache)
    (tmp_path / "elsewhere").mkdir()
    cache.symlink_to(tmp_path / "elsewhere")  # not a directory of this user's: jinja refuses it
    rr._env.cache_clear()
    assert rr._bytecode_cache(True) is None
    assert {fmt: fresh(fmt) for fmt in ("html", "md")} == want
    rr._env.cache_clear()
