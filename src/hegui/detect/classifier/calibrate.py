"""Threshold choice on a dev split, and the metrics used to report it.

Two rules: ``f1`` (the threshold with the best F1 — for heads where both error kinds cost about
the same) and ``fpr`` / ``fpr:<rate>`` (the best recall whose dev false-positive rate stays ≤ the
rate, 5 % by default — for request heads, where refusing ordinary users is the expensive mistake).
"""

from __future__ import annotations

import numpy as np

MAX_FPR = 0.05


def prf(pred: np.ndarray, y: np.ndarray) -> dict[str, float]:
    tp = int(np.sum(pred & (y == 1)))
    fp = int(np.sum(pred & (y == 0)))
    fn = int(np.sum(~pred & (y == 1)))
    tn = int(np.sum(~pred & (y == 0)))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    fpr = fp / (fp + tn) if fp + tn else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "fpr": fpr, "tp": tp, "fp": fp, "fn": fn, "tn": tn}


def choose_threshold(prob: np.ndarray, y: np.ndarray, rule: str) -> tuple[float, dict[str, float]]:
    """The threshold on ``prob`` chosen by ``rule`` and the dev metrics at it."""
    max_fpr = MAX_FPR
    if rule.startswith("fpr:"):
        rule, max_fpr = "fpr", float(rule[4:])
    if rule not in ("f1", "fpr"):
        raise ValueError(f"calibration rule must be 'f1', 'fpr' or 'fpr:<rate>', not {rule!r}")
    cands = np.unique(np.round(prob, 4))
    cands = cands[(cands > 0.01) & (cands < 0.99)]
    if cands.size == 0:
        cands = np.array([0.5])
    best_t, best_key, best_stats = 0.5, (-1.0, 0.0), prf(prob >= 0.5, y)
    for t in cands:
        s = prf(prob >= t, y)
        if rule == "fpr" and s["fpr"] > max_fpr:
            continue
        key = (s["f1"], -abs(t - 0.5)) if rule == "f1" else (s["recall"], s["precision"])
        if key > best_key:
            best_t, best_key, best_stats = float(t), key, s
    return best_t, {k: round(v, 4) if isinstance(v, float) else v for k, v in best_stats.items()}
