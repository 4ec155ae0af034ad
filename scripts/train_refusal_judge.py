#!/usr/bin/env python3
"""Train the refusal judge's classifier on the XSTest labelled completions; report held-out accuracy.

Label: full_compliance → 0, full_refusal / partial_refusal → 1. The held-out split is by *prompt*
(20 % of prompts, seeded), so no prompt's completions are in both train and test. Chinese: the JADE v3
hard triples (MIT) give, per question, an unsafe answer (complied) and a safe one (declined or
redirected); half the questions train, half are held out. Writes
src/hegui/data/models/refusal_judge.npz (weights only) and refusal_judge.json (figures).
Run: .venv/bin/python scripts/train_refusal_judge.py
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from hegui.assess.judges.refusal import (  # noqa: E402
    MODEL_PATH,
    SHORT_CHARS,
    RefusalJudge,
    features,
    looks_like_refusal,
)


def load(data: Path) -> list[tuple[str, str, int, str]]:
    rows = []
    for f in sorted((data / "refusal" / "xstest" / "model_completions").glob("*.csv")):
        with f.open(encoding="utf-8-sig", newline="") as fh:
            for r in csv.DictReader(fh):
                lab = r["final_label"].strip()
                if not lab:
                    continue
                rows.append((r["prompt"], r["completion"] or "", 0 if "compliance" in lab else 1, f.stem))
    return rows


def load_jade_pairs(data: Path) -> list[tuple[str, str, int]]:
    """JADE v3 (MIT, GB18030): per question, the unsafe answer (0, complied) and the safe one (1, declined)."""
    out: list[tuple[str, str, int]] = []
    with (data / "jade" / "jade_alignment_hard_zh.csv").open(encoding="gb18030", newline="") as fh:
        for r in csv.DictReader(fh):
            out += [(r["问题"], r["违规回答"], 0), (r["问题"], r["安全有用回答"], 1)]
    return out


def cross_validate(rows: list[tuple[str, str, int, str]], zh: list[tuple[str, str, int]], c: float, seed: int,
                   k: int = 5) -> dict[str, float]:
    """k-fold accuracy by prompt (EN) and by question (ZH) of the classifier decision (a steadier
    figure than the single held-out split, whose 450 rows move by ±2 points)."""
    from sklearn.linear_model import LogisticRegression

    prompts = sorted({r[0] for r in rows})
    random.Random(seed).shuffle(prompts)
    zq = sorted({q for q, _, _ in zh})
    random.Random(seed).shuffle(zq)
    en_acc: list[float] = []
    zh_acc: list[float] = []
    for fold in range(k):
        tp, tz = set(prompts[fold::k]), set(zq[fold::k])
        tr = [(r[0], r[1], r[2]) for r in rows if r[0] not in tp] + [r for r in zh if r[0] not in tz]
        clf = LogisticRegression(C=c, max_iter=3000, class_weight="balanced")
        clf.fit(features([r[1] for r in tr], [r[0] for r in tr]), np.array([r[2] for r in tr]))
        for test, acc in (([(r[0], r[1], r[2]) for r in rows if r[0] in tp], en_acc), ([r for r in zh if r[0] in tz], zh_acc)):
            p = clf.predict_proba(features([r[1] for r in test], [r[0] for r in test]))[:, 1]
            pred = np.array([1 if not r[1].strip() or (len(r[1].strip()) <= SHORT_CHARS and looks_like_refusal(r[1]))
                             else int(x >= 0.5) for r, x in zip(test, p, strict=True)])
            acc.append(float((pred == np.array([r[2] for r in test])).mean()))
    return {"cv_folds": k, "cv_en_accuracy": float(np.mean(en_acc)), "cv_zh_accuracy": float(np.mean(zh_acc))}


def main() -> None:
    from sklearn.linear_model import LogisticRegression

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--c", type=float, default=32.0, help="inverse regularisation strength")
    ap.add_argument("--cv", action="store_true", help="also report 5-fold cross-validated accuracy (slow)")
    a = ap.parse_args()
    rows = load(a.data)
    prompts = sorted({r[0] for r in rows})
    random.Random(a.seed).shuffle(prompts)
    test_p = set(prompts[: len(prompts) // 5])
    train = [r for r in rows if r[0] not in test_p]
    test = [r for r in rows if r[0] in test_p]
    # Chinese: JADE v3 answer pairs, half the questions for training, half held out (split by question).
    zh = load_jade_pairs(a.data)
    zq = sorted({q for q, _, _ in zh})
    random.Random(a.seed).shuffle(zq)
    zh_test_q = set(zq[: len(zq) // 2])
    train += [(q, t, y, "jade-v3") for q, t, y in zh if q not in zh_test_q]
    zh_test = [(q, t, y) for q, t, y in zh if q in zh_test_q]
    # C chosen by 5-fold cross-validation by prompt (scripts/train_refusal_judge.py --cv): 2 / 8 / 32.
    clf = LogisticRegression(C=a.c, max_iter=3000, class_weight="balanced")
    clf.fit(features([r[1] for r in train], [r[0] for r in train]), np.array([r[2] for r in train]))
    MODEL_PATH.parent.mkdir(parents=True, exist_ok=True)
    nz = clf.coef_[0].astype(np.float32)
    np.savez_compressed(MODEL_PATH, coef=nz, intercept=np.float32(clf.intercept_[0]))
    from hegui.assess.judges import refusal as mod

    mod._load.cache_clear()
    judge = RefusalJudge.from_policy()
    y = np.array([r[2] for r in test])
    clf_only = (judge.score([r[1] for r in test], [r[0] for r in test]) >= 0.5).astype(int)
    full = np.array([int(v.refused) for v in judge.judge_batch([r[1] for r in test], None, [r[0] for r in test])])
    figures = {
        "train_rows": len(train), "test_rows": len(test), "test_prompts": len(test_p), "seed": a.seed,
        "classifier_accuracy": float((clf_only == y).mean()),
        "judge_accuracy": float((full == y).mean()),
        "judge_precision": float(((full == 1) & (y == 1)).sum() / max(1, (full == 1).sum())),
        "judge_recall": float(((full == 1) & (y == 1)).sum() / max(1, (y == 1).sum())),
    }
    # Chinese held-out: JADE v3 answers to the held-out questions (unsafe = complied, safe = declined).
    zv = np.array([int(v.refused) for v in judge.judge_batch([t for _, t, _ in zh_test], None, [q for q, _, _ in zh_test])])
    zy = np.array([y for _, _, y in zh_test])
    figures["zh_jade_v3_test_rows"] = len(zh_test)
    figures["zh_jade_v3_accuracy"] = float((zv == zy).mean())
    figures["zh_jade_v3_refusal_recall"] = float(((zv == 1) & (zy == 1)).sum() / max(1, (zy == 1).sum()))
    figures["zh_jade_v3_compliance_specificity"] = float(((zv == 0) & (zy == 0)).sum() / max(1, (zy == 0).sum()))
    if a.cv:
        figures |= cross_validate(rows, zh, a.c, a.seed)
    (MODEL_PATH.with_suffix(".json")).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
