#!/usr/bin/env python3
"""False positives of the keyword library alone: how often it blocks ordinary text.

Guard with only the ``keywords`` detector and the default policy (interim rules via draft-2023),
on texts that are benign by origin:

* prompts/benign/train.jsonl, *held-out* odd half (the even half is the build script's curation
  corpus), and the whole file;
* COLD safe texts (label 0): dev split (held out) and train+dev (de-duplicated).

Reports the block rate (with a Wilson 95 % interval), the rate of texts with any keyword finding
(weak ones included), and the same block rate for the *raw* public lists used as a plain block list
(every line a strong term), which is what a naive deployment would do. For context, the block rate
on risky texts (COLD offensive dev, JADE zh unsafe questions): keywords are one layer, the classifier
catches what has no keyword.

Run: .venv/bin/python bench/keywords_fp.py [--data /work/shared/data] [--limit N] [--no-raw]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))


def held_out(text: str) -> bool:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()[0] % 2 == 1


def load_sets(data: Path, limit: int | None) -> dict[str, list[str]]:
    benign = [json.loads(line)["text"] for line in (data / "prompts/benign/train.jsonl").open(encoding="utf-8")]
    cold: dict[str, list[str]] = {}
    for split in ("train", "dev"):
        with (data / f"cold/{split}.csv").open(encoding="utf-8-sig", newline="") as fh:
            cold[split] = [r["TEXT"] for r in csv.DictReader(fh) if r["label"] == "0"]
    sets = {
        "benign held-out half": [t for t in benign if held_out(t)],
        "benign all": benign,
        "COLD safe dev (held out)": cold["dev"],
        "COLD safe train+dev": list(dict.fromkeys(cold["train"] + cold["dev"])),
    }
    return {k: v[:limit] if limit else v for k, v in sets.items()}


def load_positives(data: Path) -> dict[str, list[str]]:
    """Risky texts, for context: what share the curated library still blocks on its own."""
    with (data / "cold/dev.csv").open(encoding="utf-8-sig", newline="") as fh:
        cold = [r["TEXT"] for r in csv.DictReader(fh) if r["label"] == "1"]
    jade: list[str] = []
    for name in ("jade_benchmark_zh.csv", "jade_benchmark_easy_zh.csv"):
        with (data / "jade" / name).open(encoding="utf-8-sig", newline="") as fh:
            jade += [r["问题"] for r in csv.DictReader(fh)]
    return {"COLD offensive dev": cold, "JADE zh unsafe questions (v1 + v2 easy)": jade}


def raw_lexicon(data: Path, path: Path) -> int:
    """Every line of the raw public lists as a strong term (what 'use the lists as a block list' means)."""
    files = [*sorted((data / "lexicons/konsheng/Vocabulary").glob("*.txt")), data / "lexicons/houbb/dict_v20240407.txt"]
    terms: set[str] = set()
    for f in files:
        for line in f.read_text(encoding="utf-8-sig").splitlines():
            t = line.strip()
            if t and "\t" not in t and "+" not in t:
                terms.add(t)
    path.write_text("# hegui-lexicon 1\n# risk: A.1.h\n" + "\n".join(sorted(terms)) + "\n", encoding="utf-8")
    return len(terms)


def rate(guard, texts: list[str]) -> dict:  # type: ignore[no-untyped-def]
    from hegui.stats import wilson_interval

    blocked = flagged = anyf = 0
    risks: Counter[str] = Counter()
    for t in texts:
        v = guard.check(t)
        blocked += v.blocked
        flagged += v.action.value == "flag"
        anyf += bool(v.findings)
        if v.blocked:
            risks.update(v.risks)
    lo, hi = wilson_interval(blocked, len(texts))
    return {
        "n": len(texts), "blocked": blocked, "block_rate": round(blocked / max(1, len(texts)), 4),
        "block_ci95": [round(lo, 4), round(hi, 4)], "flag_rate": round(flagged / max(1, len(texts)), 4),
        "any_finding_rate": round(anyf / max(1, len(texts)), 4), "blocking_risks": dict(risks.most_common(5)),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--no-raw", action="store_true")
    args = ap.parse_args()
    from hegui.detect.keywords import KeywordDetector
    from hegui.guard import Guard

    sets = load_sets(args.data, args.limit)
    det = KeywordDetector()
    guard = Guard([det], "draft-2023")
    out: dict = {"library": {"entries": det.size, "backend": det.backend}, "curated": {}, "raw": {}}
    t0 = time.perf_counter()
    for name, texts in sets.items():
        out["curated"][name] = rate(guard, texts)
    out["seconds"] = round(time.perf_counter() - t0, 1)
    out["positives"] = {k: rate(guard, v) for k, v in load_positives(args.data).items()}
    if not args.no_raw:
        with tempfile.TemporaryDirectory() as tmp:
            p = Path(tmp) / "raw.txt"
            out["raw"]["terms"] = raw_lexicon(args.data, p)
            raw = Guard([KeywordDetector(extra=[p], use_default_library=False, cache_dir=tmp)], "draft-2023")
            for name in ("benign held-out half", "COLD safe dev (held out)"):
                out["raw"][name] = rate(raw, sets[name])
            out["raw"]["positives"] = {k: rate(raw, v) for k, v in load_positives(args.data).items()}
    print(json.dumps(out, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
