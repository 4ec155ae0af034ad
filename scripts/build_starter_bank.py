#!/usr/bin/env python3
"""Build the starter question bank under src/hegui/data/banks/starter/ from licence-permitted data.

Sources (all allow redistribution with attribution):
- JADE-DB (MIT): unsafe zh/en questions labelled 违规类型/违规子类 → risk ids. A.1/A.2 questions go to
  the must-refuse bank; every JADE question also goes to the generated-content bank (the answer must
  be qualified whatever the question), under a separate id.
- XSTest (CC-BY-4.0): 250 safe prompts → must-not-refuse (English); 200 unsafe contrasts →
  generated-content.
- CValues responsibility prompts (Apache-2.0): legitimate questions on sensitive domains →
  must-not-refuse where a keyword rule maps them to one of the 13 aspects, else "general".
- hegui fairness templates (Apache-2.0, this repository): the same question with the group swapped.

Deterministic: same inputs, same output. Run: .venv/bin/python scripts/build_starter_bank.py
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from hegui.assess.fairness import fairness_items  # noqa: E402

ADDED = "2026-11-28"

JADE_SUB = {
    "宣扬恐怖主义、极端主义": "A.1.d", "危害国家利益、损害国家形象": "A.1.b", "宣扬民族歧视": "A.1.e",
    "宣扬暴力、淫秽色情": "A.1.f", "宣扬淫秽色情": "A.1.f", "宣扬暴力": "A.1.f", "传播虚假有害信息": "A.1.g",
    "违反商业道德": "A.3.b", "泄露他人商业秘密": "A.3.c",
    "民族歧视内容": "A.2.a", "种族歧视内容": "A.2.a", "信仰歧视内容": "A.2.b", "国别歧视内容": "A.2.c",
    "地域歧视内容": "A.2.d", "性别歧视内容": "A.2.e", "年龄歧视内容": "A.2.f", "职业歧视内容": "A.2.g",
    "健康歧视内容": "A.2.h", "其他方面歧视内容": "A.2.i", "肤色歧视内容": "A.2.i", "服装歧视内容": "A.2.i",
    "侵害他人隐私权": "A.4.e", "侵害他人个人信息权益": "A.4.f", "非法获取私人信息": "A.4.f",
    "侵害他人名誉权": "A.4.c", "侵害他人肖像权": "A.4.b", "侵害他人身心健康": "A.4.a", "危害他人身心健康": "A.4.a",
    "侵害他人其他合法权益": "A.4.g", "侵犯他人其他合法权益": "A.4.g", "侵害其他合法权益": "A.4.g",
}
# Crimes (违法犯罪) without a finer TC260 risk are "other content prohibited by law".
JADE_TYPE_FALLBACK = {"违法犯罪": "A.1.h", "歧视偏见": "A.2.i", "侵害权益": "A.4.g", "侵犯权益": "A.4.g"}

ASPECT_RULES_ZH = [
    ("person.gender", ("性别", "女性", "男性", "女生", "男生", "妻子", "丈夫", "女人", "男人")),
    ("person.age", ("年龄", "老人", "老年", "年轻人", "儿童", "孩子", "青少年", "退休")),
    ("person.health", ("健康", "疾病", "残疾", "残障", "抑郁", "心理", "精神", "盲人", "聋", "轮椅", "自闭")),
    ("person.occupation", ("职业", "工作", "员工", "老板", "工人", "医生", "教师", "律师", "求职")),
    ("cn.system", ("法律", "制度", "法院", "宪法", "法规", "政策")),
    ("cn.ethnic", ("民族", "少数民族")),
    ("cn.belief", ("宗教", "信仰", "佛教", "道教")),
    ("cn.culture", ("文化", "传统", "节日", "春节")),
    ("cn.custom", ("习俗", "风俗", "婚礼", "彩礼")),
    ("cn.history", ("历史", "古代", "朝代")),
    ("cn.geography", ("地理", "河流", "山脉", "省份", "农村", "城市", "气候")),
]
ASPECT_RULES_EN = [
    ("person.gender", ("women", "woman", "men ", "gay", "lesbian", "trans", "female", "male", "girls")),
    ("person.age", ("old people", "elderly", "children", "kids", "teenager", "seniors", "age")),
    ("person.health", ("disab", "wheelchair", "blind", "deaf", "mental", "illness", "autis", "hiv", "diabet")),
    ("person.occupation", ("job", "work", "employee", "lawyer", "doctor", "teacher", "career", "nurse")),
    ("cn.belief", ("muslim", "christian", "jew", "buddhis", "hindu", "religio", "atheist", "catholic")),
    ("cn.ethnic", ("black people", "white people", "asian", "latino", "ethnic", "race")),
]


def aspect_for(text: str, zh: bool, domain: str = "") -> str:
    low = text.lower()
    for aspect, words in ASPECT_RULES_ZH if zh else ASPECT_RULES_EN:
        if any(w in (text if zh else low) for w in words):
            return aspect
    if domain in ("心理学", "无障碍"):
        return "person.health"
    if domain == "法理学":
        return "cn.system"
    return "general"


def jade(data: Path) -> tuple[list[dict], list[dict]]:
    refuse, gen = [], []
    for fname, lang in (("jade_benchmark_zh.csv", "zh"), ("jade_benchmark_easy_zh.csv", "zh"), ("jade_benchmark_en.csv", "en")):
        tag = fname.removeprefix("jade_benchmark_").removesuffix(".csv")
        with (data / "jade" / fname).open(encoding="utf-8-sig", newline="") as fh:
            for row in csv.DictReader(fh):
                sub = (row["违规子类"] or "").split("|")[0].strip()
                risk = JADE_SUB.get(sub) or JADE_TYPE_FALLBACK.get((row["违规类型"] or "").strip())
                text = (row["问题"] or "").strip()
                if not risk or not text:
                    continue
                base = {"text": text, "risk": risk, "language": lang, "added": ADDED, "source": f"JADE-DB {tag} #{row['ID']} (MIT)"}
                gen.append({"id": f"jade-{tag}-{row['ID']}-gen", "kind": "generated-content", **base})
                if risk.startswith(("A.1.", "A.2.")):
                    refuse.append({"id": f"jade-{tag}-{row['ID']}", "kind": "must-refuse", **base})
    return refuse, gen


XSTEST_UNSAFE_RISK = {
    "contrast_discr": "A.2.i", "contrast_historical_events": "A.1.f", "contrast_privacy": "A.4.e",
}


def xstest(data: Path) -> tuple[list[dict], list[dict]]:
    nonref, gen = [], []
    with (data / "refusal" / "xstest" / "xstest_prompts.csv").open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            base = {"text": row["prompt"].strip(), "language": "en", "added": ADDED, "source": f"XSTest #{row['id']} (CC-BY-4.0)"}
            if row["label"] == "safe":
                nonref.append({"id": f"xstest-{row['id']}", "kind": "must-not-refuse", "aspect": aspect_for(row["prompt"], False), **base})
            else:
                risk = XSTEST_UNSAFE_RISK.get(row["type"]) or ("A.1.h" if row["note"] == "drugs" else "A.1.f")
                gen.append({"id": f"xstest-{row['id']}-gen", "kind": "generated-content", "risk": risk, **base})
    return nonref, gen


def cvalues(data: Path) -> list[dict]:
    out = []
    with (data / "prompts" / "cvalues_responsibility_prompts.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            out.append({
                "id": f"cvalues-{row['id_']}", "text": row["prompt"].strip(), "kind": "must-not-refuse",
                "aspect": aspect_for(row["prompt"], True, row.get("domain_zh", "")), "language": "zh",
                "added": ADDED, "source": f"CValues responsibility #{row['id_']} {row.get('domain_zh', '')} (Apache-2.0)",
            })
    return out


def write(path: Path, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, default=ROOT / "src" / "hegui" / "data" / "banks" / "starter")
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    refuse, gen_j = jade(a.data)
    nonref_x, gen_x = xstest(a.data)
    fair = [it.to_dict() for it in fairness_items(added=ADDED)]
    files = {
        "must_refuse_jade": refuse, "generated_jade": gen_j, "generated_xstest": gen_x,
        "must_not_refuse_xstest": nonref_x, "must_not_refuse_cvalues": cvalues(a.data), "fairness_probes": fair,
    }
    for name, rows in files.items():
        write(a.out / f"{name}.jsonl", rows)
        print(f"{name}: {len(rows)}")
    (a.out / "bank.yaml").write_text(
        f"version: starter-{ADDED}\nupdated: '{ADDED}'\nformat: 1\n"
        "description: hegui starter bank built by scripts/build_starter_bank.py; below the TC260 floors, extend it.\n",
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
