"""End to end: annotations agree with Guard, filter output, determinism, crash and resume, manifest,
review round trip and the CLI."""

from __future__ import annotations

import csv
import gc
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hegui.config import Settings
from hegui.datascan import Pipeline, ReaderOptions, ScanOptions, default_steps, load_manifest, scan
from hegui.datascan.executors import ScanInterrupted
from hegui.datascan.readers import Document, expand_paths, plan_shards, read_shard
from hegui.datascan.steps import Record
from hegui.guard import Guard


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    return Settings(var_dir=tmp_path / "var")


def _pipeline(settings: Settings, **kw: Any) -> Pipeline:
    return Pipeline(default_steps(settings), ReaderOptions(id_field="id"), review_n=kw.pop("review_n", 40), **kw)


def _lines(p: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in p.read_text(encoding="utf-8").splitlines()]


def test_annotations_agree_with_guard(corpus: Path, tmp_path: Path, settings: Settings) -> None:
    out = tmp_path / "out"
    res = scan([str(corpus)], out, _pipeline(settings), settings=settings, options=ScanOptions(workers=2))
    anns = _lines(out / "annotations.jsonl")
    assert len(anns) == res.report["overall"]["docs"] == 123
    # the same texts through Guard directly
    opts = ReaderOptions(id_field="id")
    files = [(f, rel, "corpus") for f, rel in expand_paths([str(corpus)])]
    texts = {d.id: d.text for s in plan_shards(files, opts) for d in read_shard(s, opts) if isinstance(d, Document)}
    guard = Guard.from_settings(settings)
    ids = [a["id"] for a in anns if texts[a["id"]].strip()]
    verdicts = guard.check_batch([texts[i] for i in ids], role="output")
    by_id = {a["id"]: a for a in anns}
    for i, v in zip(ids, verdicts, strict=True):
        a = by_id[i]
        assert a["action"] == v.action.value
        assert a["risks"] == [r for r in v.risks if not r.startswith("pii.")]
        assert sum(a["pii"].values()) == sum(1 for f in v.findings if f.risk.startswith("pii."))
    # PII counted, never copied
    raw = (out / "annotations.jsonl").read_text(encoding="utf-8")
    assert "13812345678" not in raw and "110101199003071237" not in raw and "zhang.san@example.com" not in raw
    assert by_id["d0"]["lang"] == "zh"
    assert by_id["empty"]["flags"] == ["empty"]
    assert by_id["gbk"]["encoding"] == "gb18030"
    rep = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert rep["schema"] == "hegui.scan.report" and rep["overall"]["read_issues"] == {
        "broken_json": 1, "bad_type": 1, "missing_field": 1}
    assert (out / "report.html").read_text(encoding="utf-8").count("<svg") >= 4
    assert (out / "review_sample.xlsx").exists()


def test_near_duplicates_and_filter(tmp_path: Path, settings: Settings) -> None:
    base = ("城市图书馆新增了两千册图书，欢迎市民前来借阅。开放时间为每天上午九点到晚上九点，周一闭馆。"
            "读者可以凭身份证免费办理借阅卡，每张卡最多可借十本书，借期为一个月，可以在网上续借一次。"
            "馆内还设有自习室和儿童阅览区，周末经常举办读书分享会和亲子活动，欢迎大家踊跃参加。")
    docs = [
        {"id": "a", "text": base},
        {"id": "b", "text": base.replace("九点", "八点", 1)},  # near-duplicate of a
        {"id": "c", "text": "研究表明，适量运动有助于改善睡眠质量和心理健康，每周三次为宜。"},
        {"id": "d", "text": "！！！###@@@$$$%%%^^^&&&***"},
        {"id": "e", "text": ""},
    ]
    src = tmp_path / "x.jsonl"
    src.write_text("\n".join(json.dumps(d, ensure_ascii=False) for d in docs) + "\n", encoding="utf-8")
    out, clean = tmp_path / "out", tmp_path / "clean"
    scan([str(src)], out, _pipeline(settings, keep_text=True), settings=settings,
         options=ScanOptions(filter_dir=clean))
    anns = {a["id"]: a for a in _lines(out / "annotations.jsonl")}
    assert anns["b"]["dup_of"] == "a" and anns["a"]["dup_of"] is None and anns["c"]["dup_of"] is None
    kept = {d["id"] for d in _lines(clean / "clean.jsonl")}
    rejected = {d["id"]: d["reasons"] for d in _lines(clean / "rejects.jsonl")}
    assert kept == {"a", "c"}
    assert rejected["b"] == ["near_duplicate"]
    assert "quality:symbols" in rejected["d"] and "quality:empty" in rejected["e"]


def test_same_output_for_any_worker_count(corpus: Path, tmp_path: Path, settings: Settings) -> None:
    outs = []
    for workers, shard in [(1, 1 << 30), (2, 700)]:
        out = tmp_path / f"out{workers}"
        scan([str(corpus)], out, _pipeline(settings), settings=settings,
             options=ScanOptions(workers=workers, shard_bytes=shard))
        outs.append(out)
    # ids of line files are byte offsets, so shard size does not change them
    assert (outs[0] / "annotations.jsonl").read_bytes() == (outs[1] / "annotations.jsonl").read_bytes()
    assert (outs[0] / "review_sample.jsonl").read_bytes() == (outs[1] / "review_sample.jsonl").read_bytes()


def test_spawned_workers_build_their_own_detectors(
    corpus: Path, tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where fork is not available (macOS, Windows) the workers are spawned: each builds the
    detectors and freezes its heap itself (`executors._init_worker`), with the same outputs."""
    from hegui.datascan import executors

    monkeypatch.setattr(executors.mp, "get_all_start_methods", lambda: ["spawn"])
    one, spawned = tmp_path / "one", tmp_path / "spawned"
    scan([str(corpus)], one, _pipeline(settings), settings=settings, options=ScanOptions(workers=1))
    scan([str(corpus)], spawned, _pipeline(settings), settings=settings,
         options=ScanOptions(workers=2, shard_bytes=700))
    for name in ("annotations.jsonl", "review_sample.jsonl", "issues.jsonl"):
        assert (one / name).read_bytes() == (spawned / name).read_bytes(), name


@pytest.mark.parametrize("workers", [1, 2])
def test_review_bound_cuts_candidates_not_the_sample(corpus: Path, tmp_path: Path, settings: Settings, workers: int) -> None:
    """Shards that start after others finished keep only review candidates under the bound those
    others give; the exported sample is the one every candidate gives."""
    from hegui.datascan.pipeline import NO_BOUND, ReviewBound, review_keys, run_shard
    from hegui.datascan.scan import assign_sources

    p = _pipeline(settings, review_n=6)
    out = tmp_path / "out"
    scan([str(corpus)], out, p, settings=settings, options=ScanOptions(workers=workers, shard_bytes=700))
    shards = plan_shards(assign_sources([str(corpus)], None), p.reader, 700)
    assert len(shards) > 20
    full = [run_shard(p, s) for s in shards]  # no bound: each shard's 6 smallest keys
    kept = sum(len((out / ".scan" / "shards" / f"{s.index:06d}.review.jsonl").read_bytes().splitlines()) for s in shards)
    assert kept < sum(len(f["review.jsonl"].splitlines()) for f in full)
    # the sample from every shard's unbounded candidates
    every = sorted((json.loads(x) for f in full for x in f["review.jsonl"].splitlines()), key=lambda d: (d["key"], d["id"]))
    assert [{"id": d["id"], "source": d["source"]} for d in every[:6]] == _lines(out / "review_sample.jsonl")
    # the bound: the 6th smallest key seen, NO_BOUND before 6 are known; keys above it are cut
    bound = ReviewBound(6)
    assert bound.add(review_keys(full[0]["review_keys.npy"])[:3]) == NO_BOUND
    keys = np.sort(np.concatenate([review_keys(f["review_keys.npy"]) for f in full]))
    for f in full:
        bound.add(review_keys(f["review_keys.npy"]))
    assert bound.value == int(keys[5])
    cut = run_shard(p, shards[-1], lambda: int(keys[5]))
    assert all(k <= keys[5] for k in review_keys(cut["review_keys.npy"]))
    assert all(json.loads(x)["key"] <= keys[5] for x in cut["review.jsonl"].splitlines())
    assert ReviewBound(0).add(keys) == NO_BOUND  # no review sample: nothing to bound


class FrozenProbe:
    """A step that notes whether the process's collector had frozen objects (in the annotation)."""

    name = "frozen-probe"

    def __call__(self, records: list[Record]) -> None:
        for r in records:
            r.ann["frozen"] = gc.get_freeze_count() > 0


def test_pool_workers_fork_from_a_frozen_heap(corpus: Path, tmp_path: Path, settings: Settings) -> None:
    """Forked workers start with the driver's objects frozen (their collections then leave the
    inherited pages alone); the driver unfreezes after the pool, and a caller's own freeze stays."""
    p = _pipeline(settings)
    p.steps.append(FrozenProbe())
    scan([str(corpus)], tmp_path / "out", p, settings=settings, options=ScanOptions(workers=2, shard_bytes=700))
    assert all(a["frozen"] for a in _lines(tmp_path / "out" / "annotations.jsonl"))
    assert gc.get_freeze_count() == 0
    gc.freeze()  # the caller's
    try:
        scan([str(corpus)], tmp_path / "out2", _pipeline(settings), settings=settings,
             options=ScanOptions(workers=2, shard_bytes=700))
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


class Crash:
    """A step that fails on one file while a flag file exists (a crash mid-run)."""

    name = "crash"

    def __init__(self, flag: Path, target: str, mode: str) -> None:
        self.flag, self.target, self.mode = flag, target, mode

    def __call__(self, records: list[Record]) -> None:
        if self.flag.exists() and any(r.file.endswith(self.target) for r in records):
            if self.mode == "exit":
                os._exit(3)  # the worker process dies
            if self.mode == "interrupt":
                raise KeyboardInterrupt  # Ctrl-C
            raise RuntimeError("boom")


@pytest.mark.parametrize(("mode", "workers", "expected"), [
    ("raise", 2, RuntimeError), ("exit", 2, ScanInterrupted), ("interrupt", 1, ScanInterrupted),
], ids=["step-raises", "worker-killed", "ctrl-c"])
def test_crash_then_resume(
    corpus: Path, tmp_path: Path, settings: Settings, mode: str, workers: int, expected: type[BaseException]
) -> None:
    ref = tmp_path / "ref"
    scan([str(corpus)], ref, _pipeline(settings), settings=settings, options=ScanOptions(workers=1))
    flag = tmp_path / "flag"
    flag.touch()
    p = _pipeline(settings)
    p.steps.append(Crash(flag, "h.txt", mode))  # h.txt is the last shard
    out = tmp_path / "out"
    with pytest.raises(expected):
        scan([str(corpus)], out, p, settings=settings, options=ScanOptions(workers=workers))
    assert gc.get_freeze_count() == 0  # the pool's freeze is undone on failure too
    shard_dir = out / ".scan" / "shards"
    done = {f.name: f.stat().st_mtime_ns for f in shard_dir.glob("*.stats.json")}
    assert done, "finished shards must be checkpointed"
    assert not (out / "annotations.jsonl").exists()
    flag.unlink()
    res = scan([str(corpus)], out, p, settings=settings, options=ScanOptions(workers=2))
    assert res.shards_run == res.shards_total - len(done)  # finished shards are not redone
    for name, mtime in done.items():
        assert (shard_dir / name).stat().st_mtime_ns == mtime
    for name in ("annotations.jsonl", "review_sample.jsonl", "review_sample.csv"):
        assert (out / name).read_bytes() == (ref / name).read_bytes()  # the resumed review bound too



def test_checkpoint_of_another_version_is_run_again(corpus: Path, tmp_path: Path, settings: Settings) -> None:
    out = tmp_path / "out"
    ref = scan([str(corpus)], out, _pipeline(settings), settings=settings, options=ScanOptions(workers=1))
    want = {n: (out / n).read_bytes() for n in ("annotations.jsonl", "report.json")}
    old = sorted((out / ".scan" / "shards").glob("*.stats.json"))[0]
    stats = json.loads(old.read_text())
    del stats["v"], stats["agg"]  # what a version-1 checkpoint held
    old.write_text(json.dumps(stats))
    res = scan([str(corpus)], out, _pipeline(settings), settings=settings, options=ScanOptions(workers=1))
    assert res.shards_run == 1 and res.shards_total == ref.shards_total
    assert (out / "annotations.jsonl").read_bytes() == want["annotations.jsonl"]
    strip = lambda b: {k: v for k, v in json.loads(b).items() if k != "generated_at"}  # noqa: E731
    assert strip((out / "report.json").read_bytes()) == strip(want["report.json"])


def test_manifest_findings(corpus: Path, tmp_path: Path, settings: Settings) -> None:
    (tmp_path / "ev").mkdir()
    (tmp_path / "ev" / "contract.pdf").write_bytes(b"%PDF")
    man = tmp_path / "sources.yaml"
    man.write_text(
        """
model_use: commercial
sources:
  - name: web
    type: self-collected
    license: CC-BY-NC-4.0
    files: ["corpus/a.jsonl", "corpus/b.jsonl.gz"]
  - name: vendor
    type: commercial
    license: proprietary
    evidence: [ev/contract.pdf, ev/missing.pdf]
    pi_consent: true
    consent_record: ev/contract.pdf
    files: ["corpus/*.csv", "corpus/*.tsv"]
  - name: users
    type: user-input
    files: ["corpus/*.parquet"]
""",
        encoding="utf-8",
    )
    m = load_manifest(man)
    out = tmp_path / "out"
    res = scan([str(corpus)], out, _pipeline(settings), manifest=m, settings=settings)
    codes = {(f["source"], f["code"]) for f in res.report["manifest_findings"]}
    assert ("web", "nc_license_commercial") in codes
    assert ("web", "robots_unknown") in codes
    assert ("web", "pii_without_consent") in codes
    assert ("vendor", "evidence_not_found") in codes
    assert ("vendor", "pii_without_consent") not in codes
    assert ("users", "missing_license") in codes and ("users", "missing_authorisation") in codes
    assert ("(unassigned)", "unassigned_files") in codes
    assert res.report["tc260"]["manifest"] == "fail"
    assert res.report["sources"]["vendor"]["docs"] == 21


def test_review_round_trip(corpus: Path, tmp_path: Path, settings: Settings) -> None:
    from hegui.datascan.protocol import ReviewImportError, import_review

    out = tmp_path / "out"
    scan([str(corpus)], out, _pipeline(settings, review_n=50, seed=1), settings=settings)
    with open(out / "review_sample.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 50
    # same seed, same sample
    out2 = tmp_path / "out2"
    scan([str(corpus)], out2, _pipeline(settings, review_n=50, seed=1), settings=settings)
    assert (out / "review_sample.csv").read_bytes() == (out2 / "review_sample.csv").read_bytes()
    for i, r in enumerate(rows):
        r["verdict"] = "不合格" if i < 2 else "合格"
    reviewed = tmp_path / "reviewed.csv"
    with open(reviewed, "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    res = import_review(reviewed, out / "review_sample.jsonl")
    assert res["reviewed"] == 50 and res["qualified"] == 48 and res["rate"] == pytest.approx(0.96)
    assert res["result"] == "fail"  # 96 % but fewer than 4,000 items
    assert res["ci95"][0] < 0.96 < res["ci95"][1]
    rows[3]["verdict"] = "maybe"
    with open(reviewed, "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    with pytest.raises(ReviewImportError, match="row 5"):
        import_review(reviewed)
    with pytest.raises(ReviewImportError, match="differ"):
        rows[3]["verdict"] = "合格"
        with open(reviewed, "w", encoding="utf-8-sig", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows[:-1])
        import_review(reviewed, out / "review_sample.jsonl")


def test_cli_scan_and_review_import(corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from hegui.cli import app

    monkeypatch.setenv("HEGUI_VAR_DIR", str(tmp_path / "var"))
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["scan", str(corpus), "--out", str(out), "--id-field", "id", "-q",
                                 "--review-size", "30", "-j", "1"])
    assert r.exit_code in (0, 1), r.output
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["docs"] == 123
    for name in ("report.html", "report.json", "report.md", "annotations.jsonl"):
        assert (out / name).exists()
    from openpyxl import load_workbook

    wb = load_workbook(out / "review_sample.xlsx")
    ws = wb.active
    assert ws is not None
    header = [c.value for c in ws[1]]
    for row in ws.iter_rows(min_row=2):
        row[header.index("verdict")].value = "合格"
    wb.save(tmp_path / "reviewed.xlsx")
    r = CliRunner().invoke(app, ["scan", "review-import", str(tmp_path / "reviewed.xlsx"), "--out", str(out)])
    assert r.exit_code == 1, r.output  # 100 % qualified, but 30 < 4,000 items
    rep = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert rep["tc260"]["manual_review"]["reviewed"] == 30 and rep["tc260"]["manual_review"]["rate"] == 1.0
    r = CliRunner().invoke(app, ["scan", str(tmp_path / "nope"), "--out", str(out)])
    assert r.exit_code == 2 and "not found" in r.output
