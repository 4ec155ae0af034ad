"""The risk classifier: held-out quality, robustness to rewriting, latency via Guard, load time.

Quality uses the same deterministic splits as ``hegui train`` (``hegui.detect.classifier.data``):
offensive F1 on COLD dev (de-duplicated against train), sexism F1 on the held-out SWSR split,
unsafe-request recall on held-out JADE at the FPR measured on held-out benign prompts and CValues,
prompt-injection recall on held-out CyberSecEval. ``--baseline`` also trains plain (un-weighted)
char n-gram LR on the same features for comparison.

Robustness: up to 1,000 COLD dev texts rewritten four ways (traditional characters via OpenCC;
symbols inserted between characters; 1 in 4 Chinese characters replaced by a homophone; 1 in 4
replaced by toneless pinyin), scored through the normaliser; reports mean |Δscore| and decision
agreement with the original, per rewrite.

    nice -n 10 .venv/bin/python bench/classifier.py [--baseline] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from hegui.detect.classifier import ClassifierDetector, ClassifierModel, default_model_path
from hegui.detect.classifier.calibrate import prf
from hegui.detect.classifier.data import HEADS, load_public
from hegui.guard import Guard
from hegui.text import normalize

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def quality(model: ClassifierModel, examples: list) -> dict[str, object]:
    names = model.head_names
    col = {n: i for i, n in enumerate(names)}

    def score(rows: list) -> np.ndarray:
        return model.scores([normalize(e.text).text for e in rows])

    out: dict[str, object] = {}
    cold = [e for e in examples if e.source == "cold" and e.split == "dev"]
    s = score(cold)
    y = np.array([e.labels["offensive"] for e in cold])
    out["offensive_cold_dev"] = prf(s[:, col["offensive"]] >= 0.5, y) | {"n": len(cold)}
    for head, topic in (("sexism", "gender"), ("region", "region"), ("race", "race")):
        rows = [i for i, e in enumerate(cold) if e.fields.get("topic") == topic]
        yy = np.array([cold[i].labels[head] for i in rows])
        out[f"{head}_cold_dev_topic"] = prf(s[rows, col[head]] >= 0.5, yy) | {"n": len(rows)}
    swsr = [e for e in examples if e.source == "swsr" and e.split == "test"]
    out["sexism_swsr_test"] = prf(score(swsr)[:, col["sexism"]] >= 0.5, np.array([e.labels["sexism"] for e in swsr])) | {"n": len(swsr)}
    j = col["unsafe_request"]
    for src in ("jade", "xstest", "benign", "cvalues", "cyberseceval"):
        rows = [e for e in examples if e.source == src and e.split == "test"]
        ss = score(rows)
        for head in ("unsafe_request", "prompt_injection"):
            hit = ss[:, col[head]] >= 0.5
            pos = np.array([e.labels.get(head, 0) for e in rows]) == 1
            out[f"{head}_{src}_test"] = {"n": len(rows), "positives": int(pos.sum()),
                                         "recall": float(hit[pos].mean()) if pos.any() else None,
                                         "fpr": float(hit[~pos].mean()) if (~pos).any() else None}
    # Recall at FPR <= 5 % on held-out benign, choosing the threshold on the test benign itself
    # (an oracle operating point, reported next to the calibrated one above).
    ben = score([e for e in examples if e.source == "benign" and e.split == "test"])[:, j]
    jade = score([e for e in examples if e.source == "jade" and e.split == "test"])[:, j]
    t = float(np.quantile(ben, 0.95))
    out["unsafe_request_jade_recall_at_benign_fpr5_oracle"] = {"threshold": t, "recall": float((jade > t).mean())}
    cv = score([e for e in examples if e.source == "cvalues" and e.split == "test"])[:, j]
    t = float(np.quantile(cv, 0.95))
    out["unsafe_request_jade_recall_at_cvalues_fpr5_oracle"] = {"threshold": t, "recall": float((jade > t).mean())}
    return out


def baseline(examples: list) -> dict[str, float]:
    """Plain LR on the same hashed char 1–3-grams, threshold 0.5 on raw probability."""
    from sklearn.linear_model import LogisticRegression

    from hegui.detect.classifier.features import FeatureSpec
    from hegui.detect.classifier.train import matrix

    spec = FeatureSpec()
    tr = [e for e in examples if e.source == "cold" and e.split == "train"]
    dv = [e for e in examples if e.source == "cold" and e.split == "dev"]
    clf = LogisticRegression(C=8.0, solver="liblinear", random_state=0)
    clf.fit(matrix([e.text for e in tr], spec), [e.labels["offensive"] for e in tr])
    pred = clf.predict(matrix([e.text for e in dv], spec)) == 1
    return prf(pred, np.array([e.labels["offensive"] for e in dv]))


def rewrites(text: str, rng: random.Random, homophones: dict[str, list[str]]) -> dict[str, str]:
    import opencc
    from pypinyin import lazy_pinyin

    t2 = opencc.OpenCC("s2t").convert(text)
    sym = "".join(c + (rng.choice("*.·_ ") if "\u4e00" <= c <= "\u9fff" and rng.random() < 0.5 else "") for c in text)
    homo = "".join(rng.choice(homophones[c]) if c in homophones and rng.random() < 0.25 else c for c in text)
    pin = "".join(lazy_pinyin(c)[0] if "\u4e00" <= c <= "\u9fff" and rng.random() < 0.25 else c for c in text)
    return {"traditional": t2, "symbols": sym, "homophone": homo, "pinyin": pin}


def robustness(model: ClassifierModel, examples: list, n: int = 1000) -> dict[str, dict[str, float]]:
    from pypinyin import lazy_pinyin

    cold = sorted((e for e in examples if e.source == "cold" and e.split == "dev"), key=lambda e: e.text)
    rng = random.Random(7)
    sample = rng.sample(cold, min(n, len(cold)))
    chars = sorted({c for e in cold for c in e.text if "\u4e00" <= c <= "\u9fff"})
    by_py: dict[str, list[str]] = defaultdict(list)
    for c in chars:
        by_py[lazy_pinyin(c)[0]].append(c)
    homophones = {c: [d for d in by_py[lazy_pinyin(c)[0]] if d != c] for c in chars}
    homophones = {c: v for c, v in homophones.items() if v}
    orig = model.scores([normalize(e.text).text for e in sample])
    variants = [rewrites(e.text, rng, homophones) for e in sample]
    out = {}
    heads = [model.head_names.index(h) for h in ("offensive", "sexism", "region", "race")]
    for kind in ("traditional", "symbols", "homophone", "pinyin"):
        s = model.scores([normalize(v[kind]).text for v in variants])
        d = np.abs(s[:, heads] - orig[:, heads])
        agree = ((s[:, heads] >= 0.5) == (orig[:, heads] >= 0.5)).mean()
        out[kind] = {"mean_abs_diff": round(float(d.mean()), 4), "decision_agreement": round(float(agree), 4)}
    return out


def latency(repeat: int = 300) -> dict[str, object]:
    t = time.perf_counter()
    ClassifierModel.load(default_model_path())
    load_s = time.perf_counter() - t
    guard = Guard([ClassifierDetector()])
    base = "这家餐厅的服务态度很差，我再也不会去了。请帮我写一封投诉信，语气礼貌但坚定。"
    out: dict[str, object] = {"load_s": round(load_s, 3), "model_mb": round(default_model_path().stat().st_size / 2**20, 2)}
    for n in (50, 500, 5000):
        text = (base * (n // len(base) + 1))[:n]
        for _ in range(20):
            guard.check(text)
        ms = []
        for _ in range(repeat):
            t = time.perf_counter()
            guard.check(text)
            ms.append((time.perf_counter() - t) * 1000)
        ms.sort()
        out[f"{n}_chars"] = {"p50_ms": round(statistics.median(ms), 3), "p99_ms": round(ms[int(0.99 * len(ms)) - 1], 3)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", action="store_true", help="also train plain char n-gram LR on COLD")
    ap.add_argument("--json", type=Path, help="write the figures here")
    args = ap.parse_args()
    model = ClassifierModel.load(default_model_path())
    examples = load_public(DATA)
    res: dict[str, object] = {"latency": latency(), "quality": quality(model, examples),
                              "robustness": robustness(model, examples)}
    if args.baseline:
        res["baseline_plain_lr_cold_dev"] = baseline(examples)
    res["heads"] = {h.name: {"risk": h.risk, "threshold": h.threshold} for h in model.heads}
    assert set(res["heads"]) == set(HEADS)
    text = json.dumps(res, ensure_ascii=False, indent=1, default=float)
    print(text)
    if args.json:
        args.json.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
