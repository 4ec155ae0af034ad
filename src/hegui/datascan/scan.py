"""`scan()`: files → shards → executor → near-duplicates → merged outputs → TC260 report.

Outputs under ``out``: ``annotations.jsonl`` (one line per document, in input order, never the
raw PII), ``issues.jsonl`` (unreadable input), ``review_sample.{jsonl,csv,xlsx}``, ``report.{json,
html,md}``; with ``filter_dir``, ``clean.jsonl`` and ``rejects.jsonl`` there. The schema of
``report.json`` is documented in docs/scan.md and is read by the assessment.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hegui.datascan import protocol
from hegui.datascan.executors import Checkpoints, run_local, run_ray
from hegui.datascan.manifest import Manifest, check_manifest
from hegui.datascan.pipeline import CHECKPOINT_VERSION, Pipeline, SourceAgg, _dumps, _loads
from hegui.datascan.readers import Shard, expand_paths, plan_shards
from hegui.datascan.report import write_scan_report

SCHEMA_VERSION = 1
UNASSIGNED = "(unassigned)"


@dataclass
class ScanOptions:
    executor: str = "local"  # local | ray
    workers: int = 1
    address: str | None = None
    shard_bytes: int = 32 * 1024 * 1024
    filter_dir: Path | None = None
    progress: Callable[[int, int], None] | None = None  # (bytes done, bytes total)
    lang: str = "zh"
    annotations: Path | None = None  # default: out_dir/annotations.<format>
    annotations_format: str = "jsonl"  # jsonl | parquet


@dataclass
class ScanResult:
    report: dict[str, Any]
    out_dir: Path
    shards_run: int
    shards_total: int
    files: dict[str, Path] = field(default_factory=dict)


def assign_sources(paths: Sequence[str], manifest: Manifest | None) -> list[tuple[str, str, str]]:
    """[(path, display path, source)]: manifest globs first, else the PATH argument's name."""
    out: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    for arg in paths:
        default = Path(arg.rstrip("/")).name or arg
        for full, rel in expand_paths([arg]):
            if full in seen:
                continue
            seen.add(full)
            src = manifest.source_for(full) if manifest else default
            out.append((full, rel, src or UNASSIGNED))
    return out


def _fingerprint(p: Pipeline, shards: list[Shard], settings: Any) -> str:
    h = hashlib.sha256()
    h.update(f"checkpoint-v{CHECKPOINT_VERSION}|".encode())  # what a shard's checkpoint holds
    h.update(json.dumps([s.key() + "|" + s.source for s in shards]).encode())
    h.update(json.dumps([[type(s).__name__, getattr(s, "config", None)] for s in p.steps], sort_keys=True).encode())
    # A step's own settings (scan.detectors gives GuardStep a copy with other detectors).
    h.update(json.dumps([s.settings.model_dump_json(exclude={"secret_key"}) for s in p.steps
                         if getattr(s, "settings", None) is not None]).encode())
    h.update(json.dumps([p.reader.text_field, p.reader.id_field, p.reader.text_unit, p.reader.format,
                         p.seed, p.review_n, p.auto_fraction, p.keep_text]).encode())
    if settings is not None:
        h.update(settings.model_dump_json(exclude={"secret_key"}).encode())
    return h.hexdigest()


def assign_duplicates(ckpt: Checkpoints, shards: list[Shard]) -> list[dict[int, str]]:
    """Per shard {row: id of the cluster's first document}, in global document order.

    A document is a near-duplicate when it shares an LSH band key with an earlier document; it
    points at the earliest document of its cluster (chains are followed), which is kept. Done
    with sorted numpy arrays (8 bytes per band per document) rather than a dict, so the driver
    stays small on large corpora.
    """
    arrays = [np.load(ckpt.path(s.index, "bands.npy"), allow_pickle=False) for s in shards]
    counts = [a.shape[0] for a in arrays]
    width = max((a.shape[1] for a in arrays if a.ndim == 2 and a.shape[0]), default=0)
    total = sum(counts)
    if total == 0 or width == 0:
        return [{} for _ in shards]
    allb = np.zeros((total, width), dtype=np.uint64)
    pos = 0
    for a in arrays:
        if a.shape[0] and a.shape[1] == width:
            allb[pos : pos + a.shape[0]] = a
        pos += a.shape[0]
    del arrays
    has = allb.any(axis=1)
    own = np.arange(total, dtype=np.int64)
    first = own.copy()  # earliest document sharing any band key (itself when none)
    for b in range(width):
        idx = np.flatnonzero(has)
        keys = allb[idx, b]
        order = np.argsort(keys, kind="stable")  # stable: ties stay in document order
        sk = keys[order]
        starts = np.ones(len(sk), dtype=bool)
        starts[1:] = sk[1:] != sk[:-1]
        group_first = idx[order][np.maximum.accumulate(np.where(starts, np.arange(len(sk)), 0))]
        cand = np.empty_like(idx)
        cand[order] = group_first
        first[idx] = np.minimum(first[idx], cand)
    del allb
    root = first
    while True:  # follow chains to the cluster's first document
        nxt = root[root]
        if np.array_equal(nxt, root):
            break
        root = nxt
    dup_rows = np.flatnonzero(root != own)
    need_arr = np.unique(root[dup_rows])
    need = set(need_arr.tolist())
    ids: dict[int, str] = {}
    offsets = np.cumsum([0, *counts])
    for si, s in enumerate(shards):
        lo, hi = int(offsets[si]), int(offsets[si + 1])
        if np.searchsorted(need_arr, hi) == np.searchsorted(need_arr, lo):
            continue  # no cluster head in this shard
        for row, line in enumerate(ckpt.read(s.index, "annotations.jsonl").splitlines()):
            if lo + row in need:
                ids[lo + row] = _loads(line)["id"]
    out: list[dict[int, str]] = [{} for _ in shards]
    shard_of = np.searchsorted(offsets, dup_rows, side="right") - 1
    for g, si in zip(dup_rows.tolist(), shard_of.tolist(), strict=True):
        out[si][g - int(offsets[si])] = ids[int(root[g])]
    return out


def scan(
    paths: Sequence[str],
    out_dir: Path,
    pipeline: Pipeline,
    *,
    manifest: Manifest | None = None,
    settings: Any = None,
    options: ScanOptions | None = None,
) -> ScanResult:
    opts = options or ScanOptions()
    out_dir.mkdir(parents=True, exist_ok=True)
    if settings is not None:
        # Create the installation key once here: workers creating it at the same time would race.
        settings.key_bytes()
    files = assign_sources(paths, manifest)
    shards = plan_shards(files, pipeline.reader, opts.shard_bytes)
    work = out_dir / ".scan"
    fp = _fingerprint(pipeline, shards, settings)
    plan = work / "plan.json"
    if plan.exists() and json.loads(plan.read_text()).get("fingerprint") != fp:
        shutil.rmtree(work / "shards", ignore_errors=True)  # different input or options: start over
    work.mkdir(parents=True, exist_ok=True)
    plan.write_text(json.dumps({"fingerprint": fp, "shards": len(shards)}))
    ckpt = Checkpoints(work / "shards")

    sizes = {s.index: (s.end - s.start if s.end >= 0 else Path(s.path).stat().st_size) for s in shards}
    total = sum(sizes.values())
    done_bytes = sum(sizes[s.index] for s in shards if ckpt.done(s))

    def on_done(s: Shard) -> None:
        nonlocal done_bytes
        done_bytes += sizes[s.index]
        if opts.progress:
            opts.progress(done_bytes, total)

    if opts.progress:
        opts.progress(done_bytes, total)
    if opts.executor == "ray":
        ran = run_ray(pipeline, shards, ckpt, opts.workers, opts.address, on_done)
    elif opts.executor == "local":
        ran = run_local(pipeline, shards, ckpt, opts.workers, on_done)
    else:
        raise ValueError(f"未知执行器 unknown executor {opts.executor!r}; use local or ray")

    dups = assign_duplicates(ckpt, shards)
    report, written = _merge(out_dir, ckpt, shards, dups, pipeline, manifest, opts)
    written.update(write_scan_report(report, out_dir, opts.lang))
    return ScanResult(report, out_dir, ran, len(shards), written)


_REVIEW_ID_ENCODER = json.JSONEncoder(ensure_ascii=False)  # what json.dumps(…, ensure_ascii=False) uses
_NO_DUP = b',"dup_of":null}\n'


def _with_dup_of(data: bytes, dups: dict[int, str], dup_ids: set[str]) -> bytes:
    """A shard's annotation lines with ``dup_of`` added last, as ``_dumps`` of the parsed line
    with ``a["dup_of"] = …`` would write them, without parsing the lines that are no duplicate.

    Every line is one JSON object ending in ``}\n`` (JSON strings escape newlines, so no other
    ``}\n`` occurs): splicing ``,"dup_of":null`` before the brace writes the very bytes
    re-serialising did, for orjson's and json's output alike. A near-duplicate (a few per cent)
    is parsed and written again, its ``reasons`` extended; its id goes into ``dup_ids``.
    """
    body = data.replace(b"}\n", _NO_DUP)
    if not dups:
        return body
    lines = body.splitlines(keepends=True)
    for row, first in dups.items():
        a = _loads(lines[row])
        a["dup_of"] = first  # the key is there already (null), last, as before
        a["reasons"].append("near_duplicate")
        dup_ids.add(a["id"])
        lines[row] = _dumps(a)
    return b"".join(lines)


def _merge(
    out_dir: Path, ckpt: Checkpoints, shards: list[Shard], dups: list[dict[int, str]], p: Pipeline,
    manifest: Manifest | None, opts: ScanOptions,
) -> tuple[dict[str, Any], dict[str, Path]]:
    per_source: dict[str, SourceAgg] = defaultdict(SourceAgg)
    overall = SourceAgg()
    if manifest:
        for s in manifest.sources:
            per_source[s.name]
    issue_examples: list[dict[str, Any]] = []
    written: dict[str, Path] = {}
    fdir = opts.filter_dir
    if fdir:
        fdir.mkdir(parents=True, exist_ok=True)
    ann_path = opts.annotations or out_dir / f"annotations.{opts.annotations_format}"
    if opts.annotations_format not in ("jsonl", "parquet"):
        raise ValueError(f"annotations format must be jsonl or parquet, not {opts.annotations_format!r}")
    ann_path.parent.mkdir(parents=True, exist_ok=True)
    ann_tmp = ann_path.with_name(ann_path.name + ".jsonl.tmp")
    with open(ann_tmp, "wb") as ann_out, open(out_dir / "issues.jsonl", "wb") as iss_out:
        clean = open(fdir / "clean.jsonl", "wb") if fdir else None  # noqa: SIM115
        rej = open(fdir / "rejects.jsonl", "wb") if fdir else None  # noqa: SIM115
        try:
            for s, sd in zip(shards, dups, strict=True):
                dup_ids: set[str] = set()
                ann_out.write(_with_dup_of(ckpt.read(s.index, "annotations.jsonl"), sd, dup_ids))
                # The worker counted its shard (stats.json); only the near-duplicates are the merge's.
                agg = SourceAgg.from_json(json.loads(ckpt.read(s.index, "stats.json"))["agg"])
                agg.dups += len(sd)
                per_source[s.source].merge(agg)
                overall.merge(agg)
                for line in ckpt.read(s.index, "issues.jsonl").splitlines():
                    iss_out.write(line + b"\n")
                    d = json.loads(line)
                    per_source[d["source"]].issues[d["kind"]] += 1
                    overall.issues[d["kind"]] += 1
                    if len(issue_examples) < 50:
                        issue_examples.append(d)
                if clean and rej:
                    rej.write(ckpt.read(s.index, "rejects.jsonl"))
                    for line in ckpt.read(s.index, "kept.jsonl").splitlines():
                        d = json.loads(line)
                        if d["id"] in dup_ids:
                            d["reasons"] = ["near_duplicate"]
                            rej.write((json.dumps(d, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8", "surrogatepass"))
                        else:
                            clean.write(line + b"\n")
        finally:
            if clean:
                clean.close()
            if rej:
                rej.close()
    if opts.annotations_format == "parquet":  # a second streaming pass over the merged lines
        from hegui.datascan.annotations import read_annotations, write_parquet

        write_parquet(read_annotations(ann_tmp), ann_path)
        ann_tmp.unlink()
    else:
        ann_tmp.replace(ann_path)
    written["annotations"] = ann_path
    written["issues"] = out_dir / "issues.jsonl"
    if fdir:
        written["clean"] = fdir / "clean.jsonl"
        written["rejects"] = fdir / "rejects.jsonl"

    def part(index: int) -> Iterator[dict[str, Any]]:
        # Read lazily: the merge takes review_n items in all, a small share of each shard's file.
        with open(ckpt.path(index, "review.jsonl"), "rb") as fh:
            for x in fh:
                if x.strip():
                    yield _loads(x)

    def parts() -> list[Any]:
        return [part(s.index) for s in shards]

    review = protocol.merge_review(parts(), p.review_n)
    with open(out_dir / "review_sample.jsonl", "w", encoding="utf-8") as fh:
        encode = _REVIEW_ID_ENCODER.encode  # json.dumps(…, ensure_ascii=False) builds an encoder per call
        fh.writelines(encode({"id": d["id"], "source": d["source"]}) + "\n" for d in review)
    written.update({f"review_{k}": v for k, v in protocol.write_review(review, out_dir).items()})
    written["review_ids"] = out_dir / "review_sample.jsonl"

    manifest_findings = check_manifest(manifest) if manifest else []
    sources_out: dict[str, Any] = {}
    for name in sorted(per_source):
        agg = per_source[name]
        d = agg.to_dict()
        src = manifest.get(name) if manifest else None
        if src:
            d["manifest"] = src.model_dump(mode="json", exclude={"files"})
            if agg.pii_docs and src.pi_consent is not True:
                manifest_findings.append({"source": name, "code": "pii_without_consent", "severity": "error",
                                          "message_zh": f"{agg.pii_docs} 篇文档含个人信息，但未记录同意",
                                          "message_en": f"{agg.pii_docs} documents hold personal information but no consent is recorded"})
        elif manifest and name == UNASSIGNED and agg.docs:
            manifest_findings.append({"source": name, "code": "unassigned_files", "severity": "error",
                                      "message_zh": f"{agg.docs} 篇文档不属于清单中的任何来源",
                                      "message_en": f"{agg.docs} documents belong to no source in the manifest"})
        sources_out[name] = d
    ov = overall.to_dict()
    failing_sources = [n for n, d in sources_out.items() if d["tc260"]["source_illegal_rate"]["result"] == "fail"]
    report = {
        "schema": "hegui.scan.report",
        "schema_version": SCHEMA_VERSION,
        "inputs": {"shards": len(shards), "files": len({s.path for s in shards}), "executor": opts.executor},
        "settings": {"seed": p.seed, "review_n": p.review_n, "auto_fraction": p.auto_fraction,
                     "steps": [s.name for s in p.steps], "text_field": p.reader.text_field,
                     "id_field": p.reader.id_field, "model_use": manifest.model_use if manifest else None},
        "overall": ov,
        "sources": sources_out,
        "manifest_findings": manifest_findings,
        "read_issue_examples": issue_examples,
        "tc260": {
            "source_rule": {"threshold": protocol.SOURCE_MAX_ILLEGAL, "failing_sources": failing_sources,
                            "result": protocol.verdict(not failing_sources) if sources_out else "pending"},
            "automated_check": ov["tc260"]["automated_check"],
            "manual_review": {"sample_size": len(review), "min_items": protocol.MANUAL_MIN_ITEMS,
                              "threshold": protocol.MANUAL_MIN_QUALIFIED, "result": "pending",
                              "enough_items": len(review) >= protocol.MANUAL_MIN_ITEMS},
            "manifest": protocol.verdict(not any(f["severity"] == "error" for f in manifest_findings)) if manifest else "pending",
        },
    }
    return report, written
