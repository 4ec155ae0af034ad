"""Training data: the public sets under ``shared/data`` (or a user's JSONL) as labelled examples.

Every example carries per-head labels (1, 0, or absent = "this set says nothing about that head")
and a split. Splits are drawn by a keyed hash of the text, not by shuffling, so they do not depend
on file order and the same text always lands in the same split; duplicates across splits are
dropped from train. Licences decide what may train the shipped model (see docs/classifier.md):
benign prompts train only from rows whose per-row licence is MIT or Apache-2.0; every other
benign row, and CED rumours, are for evaluation only.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from hegui.text import normalize

SEED = "hegui-classifier-v1"
# Per-row licences of the benign prompts that allow shipping a model trained on them.
SHIPPABLE_BENIGN = frozenset({"MIT", "Apache-2.0", "Apache-2.0 (repo)"})
# Head name → taxonomy risk id, in model order.
HEADS: dict[str, str] = {
    "offensive": "hg.offensive",
    "sexism": "A.2.e",
    "region": "A.2.d",
    "race": "A.2.a",
    "unsafe_request": "hg.unsafe_request",
    "prompt_injection": "hg.prompt_injection",
}
# Calibration rule per head: maximise F1 on dev, or maximise recall at dev FPR <= 5 %.
CALIBRATION: dict[str, str] = {
    "offensive": "f1",
    "sexism": "f1",
    "region": "f1",
    "race": "f1",
    # 1 % on dev, not 5 %: dev benign rows come only from the shippable sources, and prompts from
    # unseen sources score higher (measured: 5 % on dev became ~30 % on all-source held-out benign).
    "unsafe_request": "fpr:0.01",
    "prompt_injection": "fpr:0.01",
}


class DataError(ValueError):
    """Training data that cannot be read, with the file and line in words."""


@dataclass(slots=True)
class Example:
    text: str
    labels: dict[str, int]
    split: str  # train | dev | test
    source: str
    fields: dict[str, str] = field(default_factory=dict)


def split_of(text: str, source: str, train: float = 0.7, dev: float = 0.1) -> str:
    """Deterministic split by a hash of (seed, source, text)."""
    h = hashlib.blake2b(f"{SEED}\0{source}\0{text}".encode(), digest_size=8).digest()
    u = int.from_bytes(h, "big") / 2**64
    return "train" if u < train else "dev" if u < train + dev else "test"


def _csv(path: Path, encoding: str = "utf-8-sig") -> Iterator[dict[str, str]]:
    with path.open(encoding=encoding, newline="") as fh:
        yield from csv.DictReader(fh)


def load_public(root: Path) -> list[Example]:
    """All public sets, labelled per head. ``root`` is ``shared/data``."""
    if not (root / "cold" / "train.csv").is_file():
        raise DataError(f"{root} does not look like the shared data folder (no cold/train.csv) / 数据目录不正确")
    out: list[Example] = []
    cold_heads = {"gender": "sexism", "region": "region", "race": "race"}
    for split_file, split in (("train.csv", "train"), ("dev.csv", "dev")):
        for r in _csv(root / "cold" / split_file):
            y = int(r["label"])
            # Comments are not requests: negatives for the request heads too (diversity of negatives).
            labels = {"offensive": y, "sexism": 0, "region": 0, "race": 0, "unsafe_request": 0, "prompt_injection": 0}
            labels[cold_heads[r["topic"]]] = y
            out.append(Example(r["TEXT"], labels, split, "cold", {"topic": r["topic"]}))
    for r in _csv(root / "swsr" / "SexComment.csv"):
        t = r["comment_text"]
        out.append(Example(t, {"sexism": int(r["label"])}, split_of(t, "swsr"), "swsr", {"category": r["category"]}))
    for r in _csv(root / "english" / "davidson_labeled_data.csv"):
        t = r["tweet"]
        out.append(Example(t, {"offensive": int(r["class"] in ("0", "1"))}, split_of(t, "davidson"), "davidson"))
    jade_files = [("jade_benchmark_zh.csv", "utf-8-sig"), ("jade_benchmark_easy_zh.csv", "utf-8-sig"),
                  ("jade_benchmark_en.csv", "utf-8-sig")]
    for name, enc in jade_files:
        for r in _csv(root / "jade" / name, enc):
            t = r["问题"]
            out.append(Example(t, {"unsafe_request": 1, "prompt_injection": 0}, split_of(t, "jade"), "jade",
                               {"category": r.get("违规类型", ""), "file": name}))
    hard = root / "jade" / "jade_alignment_hard_zh.csv"
    if hard.is_file():
        with hard.open(encoding="gb18030", newline="") as fh:
            rows = list(csv.reader(fh))
        for r in rows[1:]:
            if len(r) >= 2 and r[1].strip():
                out.append(Example(r[1], {"unsafe_request": 1, "prompt_injection": 0}, split_of(r[1], "jade"), "jade",
                                   {"file": hard.name}))
    for r in _csv(root / "refusal" / "xstest" / "xstest_prompts.csv"):
        t = r["prompt"]
        out.append(Example(t, {"unsafe_request": int(r["label"] == "unsafe"), "prompt_injection": 0},
                           split_of(t, "xstest"), "xstest", {"type": r["type"]}))
    inj = json.loads((root / "prompts" / "prompt_injection.json").read_text(encoding="utf-8"))
    for r in inj:
        t = r["user_input"]
        out.append(Example(t, {"prompt_injection": 1}, split_of(t, "cyberseceval"), "cyberseceval",
                           {"variant": r.get("injection_variant", "")}))
    with (root / "prompts" / "cvalues_responsibility_prompts.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            t = r["prompt"]
            # Half held out for the FPR figure; the legitimate questions are negatives for every head.
            sp = split_of(t, "cvalues", train=0.4, dev=0.1)
            out.append(Example(t, _all_zero(), sp, "cvalues", {"domain": r.get("domain_en", "")}))
    with (root / "prompts" / "benign" / "train.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            t = r["text"]
            sp = split_of(t, "benign")
            if sp != "test" and r["license"] not in SHIPPABLE_BENIGN:
                continue  # not ours to train on
            out.append(Example(t, _all_zero(), sp, "benign", {"source": r["source"], "license": r["license"]}))
    return dedupe(out)


def _all_zero() -> dict[str, int]:
    return {h: 0 for h in HEADS}


def dedupe(examples: Iterable[Example]) -> list[Example]:
    """Drop exact duplicates (on normalised text); a text seen in dev/test never stays in train."""
    examples = list(examples)
    held = {normalize(e.text).text for e in examples if e.split != "train"}
    seen: set[tuple[str, str]] = set()
    out: list[Example] = []
    for e in examples:
        key = normalize(e.text).text
        if (e.split == "train" and key in held) or (e.split, key) in seen:
            continue
        seen.add((e.split, key))
        out.append(e)
    return out


def load_jsonl(path: Path, heads: dict[str, str] | None = None) -> tuple[list[Example], dict[str, str]]:
    """A user's JSONL: ``{"text": ..., "labels": [risk ids]}`` per line; optional ``split``.

    Every risk id that appears in any row becomes a head (name = risk id); a row is negative for
    every head not in its labels. Rows without ``split`` get a deterministic 80/20 train/dev split.
    """
    rows: list[tuple[str, list[str], str | None, dict[str, str]]] = []
    try:
        fh = path.open(encoding="utf-8-sig")
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror} / 无法读取训练数据") from None
    with fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(f"{path}:{n}: not valid JSON ({e.msg}) / 第 {n} 行不是有效的 JSON") from None
            if not isinstance(r, dict) or not isinstance(r.get("text"), str):
                raise DataError(f"{path}:{n}: each line needs a string field \"text\" / 每行需要字符串字段 text")
            labels = r.get("labels", [])
            if isinstance(labels, str):
                labels = [labels]
            if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
                raise DataError(f"{path}:{n}: \"labels\" must be a list of risk ids / labels 必须是风险编号列表")
            sp = r.get("split")
            if sp is not None and sp not in ("train", "dev", "test"):
                raise DataError(f"{path}:{n}: split must be train, dev or test, not {sp!r}")
            extra = {k: str(v) for k, v in r.items() if k not in ("text", "labels", "split")}
            rows.append((r["text"], labels, sp, extra))
    if not rows:
        raise DataError(f"{path} has no examples / 训练数据为空")
    if heads is None:
        heads = {risk: risk for risk in sorted({x for _, ls, _, _ in rows for x in ls})}
    if not heads:
        raise DataError(f"{path}: no row has a label, nothing to learn / 没有任何正例标签")
    by_risk = {risk: name for name, risk in heads.items()}
    out = []
    for text, labels, sp, extra in rows:
        y = {name: 0 for name in heads}
        for risk in labels:
            if risk in by_risk:
                y[by_risk[risk]] = 1
        out.append(Example(text, y, sp or split_of(text, "user", train=0.8, dev=0.2), "user", extra))
    return dedupe(out), heads
