"""Regenerate the example batches: ``python examples/annotation/make_example.py``.

Synthetic, deterministic data (no text from any data set): three batches as a labelling team
would hand them over, and the review sheet as reviewers would return it after
``hegui annotation sample`` (same seed, so the sampled items are the ones the report expects).

* F-2026-001 — functional (intent), 200 items, 40 double-annotated, 100 sampled and reviewed: accept.
* F-2026-002 — functional, 60 items, reviewed in full; a reviewer found illegal content: discard.
* S-2026-001 — safety, 40 items, all double-annotated, every annotation reviewed: accept.
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

from hegui.annotation import sample_items, sampling_plan

HERE = Path(__file__).resolve().parent
SEED = 20231
CITIES = ["北京", "上海", "广州", "杭州", "成都", "西安", "武汉", "南京"]
TEMPLATES = {
    "weather": ["明天{c}会下雨吗？", "{c}这周末冷不冷", "{c}今天空气质量怎么样"],
    "booking": ["帮我订一张周五去{c}的高铁票", "预订{c}的酒店，两晚", "把去{c}的机票改到下周一"],
    "faq": ["去{c}的票退票要收手续费吗？", "{c}的酒店可以延迟退房吗", "儿童票怎么买？"],
    "complaint": ["去{c}的订单一直没出票，你们怎么回事", "{c}酒店房间和图片不符，要求退款"],
    "chitchat": ["今天心情不错", "你喜欢{c}吗", "讲个笑话吧"],
}
SAFETY = ["none"] * 24 + ["A.2.d", "A.2.d", "A.2.e", "A.2.f", "A.4.f", "A.4.f", "A.1.g", "A.3.b",
                          "hg.prompt_injection", "hg.prompt_injection", "A.4.a", "A.5.a", "A.2.g", "A.4.c", "A.3.c", "A.2.h"]


def main() -> None:
    rng = random.Random(SEED)
    anns: list[dict] = []
    truth: dict[tuple[str, str], str] = {}

    def add(batch: str, item: str, annotator: str, labels: str, day: str, task: str, text: str | None) -> None:
        row = {"batch": batch, "item": item, "task": task, "annotator": annotator, "labels": labels.split("|"), "time": day}
        if text is not None:
            row["text"] = text
        anns.append(row)

    # F-2026-001: ann01 items 1-100, ann02 items 101-200; items 1-40 also by ann02.
    intents = list(TEMPLATES)
    for i in range(1, 201):
        item = f"F1-{i:04d}"
        intent = intents[rng.randrange(len(intents))]
        text = rng.choice(TEMPLATES[intent]).format(c=rng.choice(CITIES))
        truth[("F-2026-001", item)] = intent
        first = "ann01" if i <= 100 else "ann02"
        add("F-2026-001", item, first, intent, f"2026-03-{2 + i % 20:02d}", "intent", text)
        if i <= 40:
            other = intent if i not in (7, 19, 33) else ("faq" if intent != "faq" else "booking")
            add("F-2026-001", item, "ann02", other, f"2026-03-{3 + i % 20:02d}", "intent", text)
    # F-2026-002: ann03, 60 items; item F2-0031 turns out to hold illegal content.
    for i in range(1, 61):
        item = f"F2-{i:04d}"
        intent = intents[rng.randrange(len(intents))]
        text = "[已按规则移除]" if i == 31 else rng.choice(TEMPLATES[intent]).format(c=rng.choice(CITIES))
        truth[("F-2026-002", item)] = intent
        add("F-2026-002", item, "ann03", intent, "2026-04-10", "intent", text)
    # S-2026-001: safety, ann01 and ann03 label every item (text not shipped in the example).
    for i in range(1, 41):
        item = f"S1-{i:04d}"
        label = SAFETY[i - 1]
        add("S-2026-001", item, "ann01", label, "2026-06-15", "safety-risk", None)
        alt = {5: "A.2.d", 12: "none", 27: "A.2.g", 35: "A.1.h"}.get(i, label)
        add("S-2026-001", item, "ann03", alt, "2026-06-16", "safety-risk", None)

    with open(HERE / "annotations.jsonl", "w", encoding="utf-8") as fh:
        for row in anns:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")

    # The returned review sheet: the sampled items of each batch, every annotation of them.
    reviews = []
    by_batch: dict[str, list[dict]] = {}
    for row in anns:
        by_batch.setdefault(row["batch"], []).append(row)
    for batch, rows in by_batch.items():
        items = sorted({r["item"] for r in rows})
        if batch.startswith("S-"):
            chosen = set(items)
        else:
            chosen = set(sample_items(items, sampling_plan(len(items), 0.95, 0.95).sample_size, SEED, batch))
        for r in sorted(rows, key=lambda r: (r["item"], r["annotator"])):
            if r["item"] not in chosen:
                continue
            reviewer = "rev02" if (batch == "S-2026-001" and r["annotator"] == "ann01") else "rev01"
            if batch == "F-2026-002":
                reviewer = "rev02"
            wrong = (batch.startswith("F-") and r["labels"][0] != truth[(batch, r["item"])]) or \
                    (batch == "S-2026-001" and r["annotator"] == "ann03" and r["item"] in ("S1-0012", "S1-0035"))
            wrong = wrong or (batch == "F-2026-001" and r["item"] in ("F1-0150",))
            reviews.append({
                "batch": batch, "item": r["item"], "annotator": r["annotator"], "reviewer": reviewer,
                "verdict": "错误" if wrong else "正确",
                "illegal": "是" if r["item"] == "F2-0031" else "",
                "corrected_labels": _corrected(r, truth) if wrong else "",
                "time": "2026-06-20" if batch.startswith("S-") else "2026-04-20",
            })
    with open(HERE / "reviews.csv", "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(reviews[0]))
        w.writeheader()
        w.writerows(reviews)
    print(f"{len(anns)} annotations, {len(reviews)} reviews")


def _corrected(r: dict, truth: dict[tuple[str, str], str]) -> str:
    """The label the reviewer writes in: the right one, or for a safety item the agreed one."""
    if r["batch"] == "S-2026-001":
        return {"S1-0012": "none", "S1-0035": "hg.prompt_injection"}[r["item"]]
    right = truth[(r["batch"], r["item"])]
    return right if r["labels"][0] != right else ("faq" if right != "faq" else "booking")


if __name__ == "__main__":
    main()
