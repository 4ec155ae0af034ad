"""The default Guard (default detectors + the interim-2023 preset) on held-out prompts: block rates.

This is the figure a provider cares about before any threshold tuning: how many legitimate prompts
the out-of-the-box gateway refuses (wrongful refusal, TC260 asks ≤ 5 %) and how many harmful requests
it refuses at the input, before the model answers. Held-out rows are the ``test`` split of
``hegui.detect.classifier.data`` (never trained or calibrated on), so the figure is honest for the
classifier; the keyword library is curated on different data (``bench/keywords_fp.py``).

    nice -n 10 .venv/bin/python bench/default_policy.py [--json out.json]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from hegui.config import Settings
from hegui.detect.classifier.data import load_public
from hegui.guard import Guard

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
# (source, unsafe_request label) → what a block means there.
SETS = {
    ("benign", 0): "legitimate prompts (all sources): wrongful refusal",
    ("cvalues", 0): "CValues legitimate sensitive questions: wrongful refusal",
    ("xstest", 0): "XSTest safe edge cases (en): wrongful refusal",
    ("jade", 1): "JADE harmful requests: refused at input",
    ("xstest", 1): "XSTest unsafe prompts (en): refused at input",
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    settings = Settings()
    guard = Guard.from_settings(settings)
    examples = [e for e in load_public(DATA) if e.split == "test"]
    out: dict[str, dict[str, object]] = {}
    print(f"detectors: {', '.join(settings.guard.detectors)}; policy: {guard.policy.name}")
    print(f"{'set':60} {'n':>6} {'blocked':>8} {'flagged':>8}  top blocking risks")
    for (src, y), label in SETS.items():
        texts = [e.text for e in examples if e.source == src and e.labels.get("unsafe_request") == y]
        verdicts = guard.check_batch(texts, role="input")
        blocked = [v for v in verdicts if v.action.value == "block"]
        flagged = sum(v.action.value == "flag" for v in verdicts)
        top = Counter(r for v in blocked for r in v.risks).most_common(3)
        row = {"n": len(texts), "blocked": len(blocked) / len(texts), "flagged": flagged / len(texts), "top": top}
        out[label] = row
        print(f"{label:60} {len(texts):>6} {row['blocked']:>8.3f} {row['flagged']:>8.3f}  "
              + ", ".join(f"{r} {n}" for r, n in top))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
