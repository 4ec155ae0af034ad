"""scripts/build_keywords.py on a tiny synthetic data directory: each curation rule, and reproducibility."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import yaml

from hegui.detect.keywords import load_lexicon

ROOT = Path(__file__).resolve().parents[2]


def _script():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("build_keywords", ROOT / "scripts" / "build_keywords.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _data(tmp: Path) -> Path:
    d = tmp / "data"
    (d / "lexicons/konsheng/Vocabulary").mkdir(parents=True)
    (d / "lexicons/houbb").mkdir(parents=True)
    (d / "swsr").mkdir()
    (d / "prompts/benign").mkdir(parents=True)
    (d / "cold").mkdir()
    (d / "lexicons/konsheng/LICENSE").write_text("MIT License\nCopyright konsheng", encoding="utf-8")
    (d / "lexicons/houbb/LICENSE.txt").write_text("Apache License\n" + "x" * 3000, encoding="utf-8")
    (d / "swsr/LICENSE").write_text("MIT License\nCopyright SWSR", encoding="utf-8")
    (d / "lexicons/konsheng/Vocabulary/色情类型.txt").write_text(
        "\ufeff淫秽视频下载\n网络\n色\nqq\n甲+乙\n淫秽視頻下載\n普通短语\n", encoding="utf-8")
    (d / "lexicons/houbb/dict.txt").write_text("出售手枪子弹\n某不明词汇长一些\n短词\n左轮手枪\n", encoding="utf-8")
    (d / "swsr/SexHateLex.txt").write_text("母老虎\n", encoding="utf-8")
    rows = [{"text": "今天学习了普通短语的用法"}, {"text": "普通短语很常见"}, {"text": "你好"}]
    (d / "prompts/benign/train.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows * 4),
                                                  encoding="utf-8")
    cold = "".join(f"{i},train,race,0,普通短语出现在这里{i}\n" for i in range(3)) + "9,train,race,1,普通短语\n"
    (d / "cold/train.csv").write_text("\ufeff,split,topic,label,TEXT\n" + cold, encoding="utf-8")
    return d


RULES = {
    "version_prefix": "9", "jieba_weak_freq": 100, "benign_weak_df": 1, "jieba_drop_freq": 1000,
    "benign_drop_df": 3, "ascii_drop_len": 2, "ascii_weak_len": 4, "unclassified_min_len": 5,
    "sources": [
        {"path": "lexicons/konsheng/Vocabulary/色情类型.txt", "risk": "A.1.f"},
        {"path": "lexicons/houbb/dict.txt", "risk": "A.1.h", "classify": True, "unclassified": "weak"},
        {"path": "swsr/SexHateLex.txt", "risk": "A.2.e", "strength": "weak"},
    ],
    "cues": [{"risk": "A.1.h", "re": "枪|弹"}],
    "bare_noun": {"risks": ["A.1.h"], "noun": "枪", "action": "出售|买", "max_len": 6},
    "stop": ["网络"], "weak": [], "strong": [],
    "templates": [{"risk": "A.2.d", "groups": ["某地人"], "forms": ["{g}都是骗子"]}],
    "curated": [{"risk": "A.1.g", "terms": ["转发救人"]}],
}


def test_build_rules_and_reproducibility(tmp_path: Path) -> None:
    mod = _script()
    data = _data(tmp_path)
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump(RULES, allow_unicode=True), encoding="utf-8")
    out = tmp_path / "out"
    args = ["--data", str(data), "--rules", str(rules), "--out", str(out), "--date", "2026-11-01"]
    assert mod.main(args) == 0
    lex = load_lexicon(out / "default.txt")
    got = {e.term: (e.risk, e.strength.value) for e in lex.entries}
    assert got == {
        "淫秽视频下载": ("A.1.f", "strong"),  # its traditional spelling is a duplicate after normalisation
        "出售手枪子弹": ("A.1.h", "strong"),  # cue → A.1.h; a trade word keeps it strong
        "左轮手枪": ("A.1.h", "weak"),  # bare weapon name
        "某不明词汇长一些": ("A.1.h", "weak"),  # mixed list, no cue, long enough to keep
        "母老虎": ("A.2.e", "weak"),  # context-only source
        "某地人都是骗子": ("A.2.d", "strong"),  # template
        "转发救人": ("A.1.g", "strong"),  # curated
    }
    # 网络 (stop-list), 色 (single character), qq (short ASCII), 甲+乙 (combination), 普通短语 (in ≥ 3
    # benign curation documents) and 短词 (mixed list, no cue, short) are dropped, each counted.
    m = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert m["dropped"]["stop-list"] == 1 and m["dropped"]["single character"] == 1
    assert m["dropped"]["ASCII of <= 2 characters"] == 1 and m["dropped"]["combination or empty"] == 1
    assert m["dropped"]["ordinary word (benign curation texts)"] == 1 and m["dropped"]["mixed list, no cue, short"] == 1
    assert lex.version == "9.20261101" and "MIT License" in (out / "NOTICE.md").read_text(encoding="utf-8")
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    assert mod.main(args) == 0
    assert {p.name: p.read_bytes() for p in out.iterdir()} == first  # byte-identical rebuild


def test_shipped_library_is_what_the_script_builds() -> None:
    """The committed library loads, is dated, and its manifest agrees with it."""
    lex = load_lexicon(ROOT / "src/hegui/data/keywords/default.txt")
    m = json.loads((ROOT / "src/hegui/data/keywords/manifest.json").read_text(encoding="utf-8"))
    assert len(lex) == m["entries"] and lex.version == m["version"] and lex.date and lex.date.isoformat() == m["date"]
    assert sum(1 for e in lex.entries if e.strength.value == "strong") == m["per_strength"]["strong"]
