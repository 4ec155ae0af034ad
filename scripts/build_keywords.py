#!/usr/bin/env python3
"""Build the shipped keyword library from the public lists in /work/shared/data and our curation rules.

    .venv/bin/python scripts/build_keywords.py [--data /work/shared/data] [--date YYYY-MM-DD]

Reads the raw lists named in ``scripts/keywords/curation.yaml`` (konsheng/Sensitive-lexicon, MIT;
houbb/sensitive-word, Apache-2.0; SWSR SexHateLex, MIT), applies the rules there (drop generic
words, map each file or cue to a TC260 risk id, decide strong/weak), adds the template-generated
and hand-curated phrases, and writes:

* ``src/hegui/data/keywords/default.txt``   the library (hegui lexicon format, sorted; do not edit);
* ``src/hegui/data/keywords/manifest.json`` counts per risk/strength/source, dropped counts by
  reason, input hashes, and the benign curation split (so a reviewer can check every figure);
* ``src/hegui/data/keywords/NOTICE.md``     the upstream licences the derived lists ship under.

Reproducible: the same inputs, rules and ``--date`` give byte-identical files. The benign
curation corpus is the *even* half (by text hash) of prompts/benign/train.jsonl plus COLD's
*train* safe texts; bench/keywords_fp.py measures on the other half and on COLD dev (held out).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import json
import os
import re
import sys
from collections import Counter
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from hegui import taxonomy  # noqa: E402
from hegui.detect.keywords.lexicon import Entry, Lexicon, Strength, write_text  # noqa: E402
from hegui.text import normalize  # noqa: E402

OUT = ROOT / "src" / "hegui" / "data" / "keywords"
RULES = ROOT / "scripts" / "keywords" / "curation.yaml"
_CJK = re.compile(r"[\u3400-\u9fff]")
_NAME = re.compile(r"^[\u4e00-\u9fff]{2,3}$")
_URL = re.compile(r"^[a-z0-9.-]+\.[a-z]{2,}$")


def text_hash_even(text: str) -> bool:
    """The benign split: even = curation half, odd = held out for bench/keywords_fp.py."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()[0] % 2 == 0


def benign_curation_texts(data: Path) -> list[str]:
    out: list[str] = []
    with (data / "prompts" / "benign" / "train.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            t = json.loads(line)["text"]
            if text_hash_even(t):
                out.append(t)
    with (data / "cold" / "train.csv").open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["label"] == "0":
                out.append(row["TEXT"])
    return out


def jieba_freq() -> dict[str, int]:
    import jieba

    freq: dict[str, int] = {}
    with open(os.path.join(os.path.dirname(jieba.__file__), "dict.txt"), encoding="utf-8") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) >= 2:
                freq[parts[0]] = int(parts[1])
    return freq


def clean(raw: str) -> str | None:
    t = raw.strip().strip("。，,;；")
    if not t or "+" in t or "\t" in t:
        return None  # combination entries ("a+b+c") need co-occurrence logic the format does not have
    return t


def doc_freq(terms: list[str], texts: list[str]) -> Counter[str]:
    """In how many benign curation documents each normalised term occurs (ASCII word boundaries)."""
    import ahocorasick

    a = ahocorasick.Automaton()
    for t in terms:
        a.add_word(t, t)
    a.make_automaton()
    df: Counter[str] = Counter()
    for raw in texts:
        s = normalize(raw).text
        found: set[str] = set()
        for end, t in a.iter(s):
            st = end + 1 - len(t)
            if t[0].isascii() and t[0].isalnum() and st > 0 and s[st - 1].isascii() and s[st - 1].isalnum():
                continue
            if t[-1].isascii() and t[-1].isalnum() and end + 1 < len(s) and s[end + 1].isascii() and s[end + 1].isalnum():
                continue
            found.add(t)
        df.update(found)
    return df


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("HEGUI_DATA", "/work/shared/data")))
    ap.add_argument("--rules", type=Path, default=RULES)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--date", type=dt.date.fromisoformat, default=dt.datetime.now(dt.UTC).date())
    args = ap.parse_args(argv)
    rules = yaml.safe_load(args.rules.read_text(encoding="utf-8"))
    norm = lambda s: normalize(s).text.strip()  # noqa: E731
    stop = {norm(w) for w in rules["stop"]}
    weak = {norm(w) for w in rules["weak"]}
    strong = {norm(w) for w in rules["strong"]}
    cues = [(c["risk"], re.compile(c["re"])) for c in rules["cues"]]
    bare = rules["bare_noun"]
    bare_noun, bare_action = re.compile(bare["noun"]), re.compile(bare["action"])
    for r, _ in cues:
        taxonomy.get(r)

    dropped: Counter[str] = Counter()
    # normalised term → (original term, risk, source label, source rule)
    cand: dict[str, tuple[str, str, str, dict]] = {}
    inputs: dict[str, str] = {}
    for src in rules["sources"]:
        path = args.data / src["path"]
        raw = path.read_bytes()
        inputs[src["path"]] = hashlib.sha256(raw).hexdigest()
        label = "/".join(Path(src["path"]).parts[-3:][::2]) if "konsheng" in src["path"] else "/".join(Path(src["path"]).parts[-2:])
        for line in raw.decode("utf-8-sig").splitlines():
            t = clean(line)
            if t is None:
                dropped["combination or empty"] += 1
                continue
            n = norm(t)
            if src.get("urls"):
                if not _URL.match(n):
                    dropped["not a host name (URL list)"] += 1
                    continue
            elif "." in n and _URL.match(n):
                dropped["host name outside the URL list"] += 1
                continue
            if len(n) < 2:
                dropped["single character"] += 1
                continue
            if n.isascii() and len(n) <= rules["ascii_drop_len"]:
                dropped["ASCII of <= 2 characters"] += 1
                continue
            if n in stop:
                dropped["stop-list"] += 1
                continue
            if n in cand:
                dropped["duplicate after normalisation"] += 1
                continue
            risk = src["risk"]
            rule = src
            if src.get("classify"):
                hit = next((r for r, rx in cues if rx.search(n)), None)
                risk = hit or risk
                if hit is None and src.get("unclassified") == "weak":
                    if len(n) < rules["unclassified_min_len"] and n not in weak and n not in strong:
                        dropped["mixed list, no cue, short"] += 1
                        continue
                    rule = {**src, "strength": "weak", "why": "mixed list, no cue"}
            cand[n] = (t, risk, label, rule)

    for tpl in rules["templates"]:
        for g in tpl["groups"]:
            for f in tpl["forms"]:
                t = f.format(g=g)
                n = norm(t)
                if n not in cand and n not in stop:
                    cand[n] = (t, tpl["risk"], "hegui/templates", {})
    for block in rules["curated"]:
        for t in block["terms"]:
            n = norm(t)
            if n not in stop:
                cand[n] = (t, block["risk"], "hegui/curated", {})

    texts = benign_curation_texts(args.data)
    df = doc_freq(list(cand), texts)
    jf = jieba_freq()
    why_weak: Counter[str] = Counter()
    entries: list[Entry] = []
    for n, (_t, risk, label, src) in sorted(cand.items()):
        taxonomy.get(risk)
        reason = None
        if n not in strong and n not in weak:
            if df[n] >= rules["benign_drop_df"]:
                dropped["ordinary word (benign curation texts)"] += 1
                continue
            if jf.get(n, 0) >= rules["jieba_drop_freq"]:
                dropped["ordinary word (jieba frequency)"] += 1
                continue
        if n in strong:
            reason = None
        elif n in weak:
            reason = "weak-list"
        elif src.get("strength") == "weak":
            reason = src.get("why", "source is context-only")
        elif df[n] >= rules["benign_weak_df"]:
            reason = "occurs in benign curation texts"
        elif jf.get(n, 0) >= rules["jieba_weak_freq"]:
            reason = "common word (jieba frequency)"
        elif n.isascii() and len(n) <= rules["ascii_weak_len"] and not _URL.match(n):
            reason = "short ASCII token"
        elif src.get("names_weak") and _NAME.match(n) and not any(rx.search(n) for _, rx in cues):
            reason = "bare name (politics list)"
        elif (
            risk in bare["risks"] and len(n) <= bare["max_len"] and bare_noun.search(n) and not bare_action.search(n)
        ):
            reason = "bare weapon, drug or chemical name"
        if reason:
            why_weak[reason] += 1
        entries.append(Entry(n, risk, Strength.WEAK if reason else Strength.STRONG, (), label))

    version = f"{rules['version_prefix']}.{args.date:%Y%m%d}"
    lex = Lexicon(name="hegui-default", entries=entries, version=version, date=args.date)
    args.out.mkdir(parents=True, exist_ok=True)
    write_text(lex, args.out / "default.txt", header=[
        "Generated by scripts/build_keywords.py from scripts/keywords/curation.yaml; do not edit by hand.",
        "Terms are stored normalised (hegui.text.normalize). Upstream licences: NOTICE.md.",
    ])
    per_risk: Counter[str] = Counter()
    per_strength: Counter[str] = Counter()
    per_source: Counter[str] = Counter()
    for e in entries:
        per_risk[f"{e.risk}/{e.strength.value}"] += 1
        per_strength[e.strength.value] += 1
        per_source[e.source] += 1
    manifest = {
        "name": lex.name,
        "version": version,
        "date": args.date.isoformat(),
        "entries": len(entries),
        "per_strength": dict(sorted(per_strength.items())),
        "per_risk": dict(sorted(per_risk.items())),
        "per_source": dict(sorted(per_source.items())),
        "dropped": dict(sorted(dropped.items())),
        "weak_reasons": dict(sorted(why_weak.items())),
        "curation_corpus": {"documents": len(texts), "split": "benign train.jsonl even sha256 half + COLD train label 0"},
        "inputs_sha256": inputs,
        "rules_sha256": hashlib.sha256(args.rules.read_bytes()).hexdigest(),
    }
    (args.out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    write_notice(args.data, args.out / "NOTICE.md")
    print(json.dumps({k: manifest[k] for k in ("version", "entries", "per_strength", "dropped", "weak_reasons")}, ensure_ascii=False))
    return 0


def write_notice(data: Path, path: Path) -> None:
    parts = [
        "# Third-party notices for the shipped keyword library",
        "",
        "`default.txt` is derived (filtered, normalised, re-categorised) from the lists below by",
        "`scripts/build_keywords.py`; the template and curated phrases are hegui's own (Apache-2.0).",
        "",
    ]
    for title, url, lic in (
        ("konsheng/Sensitive-lexicon", "https://github.com/konsheng/Sensitive-lexicon", data / "lexicons/konsheng/LICENSE"),
        ("houbb/sensitive-word", "https://github.com/houbb/sensitive-word", data / "lexicons/houbb/LICENSE.txt"),
        ("SWSR SexHateLex (aggiejiang/SWSR)", "https://github.com/aggiejiang/SWSR", data / "swsr/LICENSE"),
    ):
        text = lic.read_text(encoding="utf-8-sig").strip()
        if "Apache License" in text and len(text) > 2000:
            text = "Apache License, Version 2.0 — https://www.apache.org/licenses/LICENSE-2.0 (full text in hegui's LICENSE)."
        parts += [f"## {title}", "", url, "", "```", text, "```", ""]
    path.write_text("\n".join(parts), encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
