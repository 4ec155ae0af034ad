"""PII recognition throughput on a realistic Chinese corpus, all recognisers on.

The corpus is the benign prompt set (``../shared/data/prompts/benign/train.jsonl``) with synthetic
PII planted into a fraction of the texts (IDs, cards and USCCs generated with our own validators,
so no real person's data). Prints MB/s of UTF-8 input for the recognisers alone (on already
normalised text) and with normalisation, per text, plus recall on the planted values and the
share of unplanted texts with any finding. Times are CPU seconds (``time.process_time``), median of
``--repeat``: wall-clock swings by 2x on the shared machine.

    .venv/bin/python bench/pii.py [--limit 20000] [--plant 0.2] [--repeat 3]

``--scan-mb 4`` instead measures what the training-data scanner pays: the documents of
bench/scan.py's corpus (4 MB: documents of 3-12 texts, 8 % with a planted phone and e-mail),
normalised, through ``detect_batch`` in batches of 256 (as ``Guard.check_batch`` gets them) and
through ``detect`` one by one, in CPU seconds (best of ``--repeat``), with a hash of the findings
so that two trees can be compared (``PYTHONPATH=<other tree>/src``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import random
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

from hegui.detect.pii import PiiDetector
from hegui.detect.pii.validators import luhn_check_digit, make_resident_id, make_uscc
from hegui.text import normalize

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "prompts" / "benign" / "train.jsonl"
_REGIONS = ("110105", "310104", "440305", "330106", "510107", "420106", "320102")
_SURNAMES = "王李张刘陈杨黄赵吴周"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚"


def _plant(rng: random.Random) -> tuple[str, str]:
    """One sentence with one synthetic PII value, and the risk id it should be found as."""
    kind = rng.randrange(10)
    if kind == 0:
        birth = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(25000))
        return f"我的身份证号是{make_resident_id(rng.choice(_REGIONS), birth, rng.randrange(1000))}。", "pii.id_card"
    if kind == 1:
        n = f"1{rng.choice(['38', '39', '58', '77', '86', '99'])}{rng.randrange(10**8):08d}"
        return f"有事打我手机{n[:3]} {n[3:7]} {n[7:]}。", "pii.mobile"
    if kind == 2:
        return f"公司电话0{rng.choice(['10', '21', '755', '571'])}-{rng.randrange(2, 9)}{rng.randrange(10**6, 10**7)}。", "pii.landline"
    if kind == 3:
        body = "622202" + "".join(str(rng.randrange(10)) for _ in range(12))
        return f"请转账到卡号{body + luhn_check_digit(body)}。", "pii.bank_card"
    if kind == 4:
        return f"发邮件到user{rng.randrange(10**5)}@example.com。", "pii.email"
    if kind == 5:
        return f"服务器ip是10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}。", "pii.ip_address"
    if kind == 6:
        return f"我的护照号E{rng.randrange(10**7, 10**8)}。", "pii.passport"
    if kind == 7:
        first = "91" + rng.choice(_REGIONS) + "".join(rng.choice("0123456789ABCDEFGH") for _ in range(9))
        return f"统一社会信用代码{make_uscc(first)}。", "pii.uscc"
    if kind == 8:
        return f"收货地址：广东省深圳市南山区科技园路{rng.randrange(1, 300)}号{rng.randrange(1, 9)}栋{rng.randrange(101, 2000)}室。", "pii.address"
    return f"你好，我叫{rng.choice(_SURNAMES)}{rng.choice(_GIVEN)}{rng.choice(_GIVEN)}，请多关照。", "pii.person_name"


def build_corpus(path: Path, limit: int, plant: float, seed: int = 7) -> list[tuple[str, str | None]]:
    rng = random.Random(seed)
    out: list[tuple[str, str | None]] = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if len(out) >= limit:
                break
            text = json.loads(line)["text"]
            if rng.random() < plant:
                sent, risk = _plant(rng)
                cut = rng.randrange(len(text) + 1)
                out.append((text[:cut] + sent + text[cut:], risk))
            else:
                out.append((text, None))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--limit", type=int, default=20000)
    ap.add_argument("--plant", type=float, default=0.2, help="share of texts that get one PII value")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--scan-mb", type=float, default=0, help="measure on bench/scan.py's corpus of this size instead")
    args = ap.parse_args(argv)
    if args.scan_mb:
        return scan_corpus(args.scan_mb, args.repeat)
    if not args.data.exists():
        print(f"数据文件不存在 / data file not found: {args.data}", file=sys.stderr)
        return 2

    corpus = build_corpus(args.data, args.limit, args.plant)
    texts = [t for t, _ in corpus]
    mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    det = PiiDetector()
    norms = [normalize(t) for t in texts]

    def timed(fn) -> float:  # type: ignore[no-untyped-def]
        runs = []
        for _ in range(args.repeat):
            t0 = time.process_time()
            fn()
            runs.append(time.process_time() - t0)
        return statistics.median(runs)

    t_rec = timed(lambda: [det.detect(n) for n in norms])
    t_all = timed(lambda: [det.detect(normalize(t)) for t in texts])
    big = normalize("\n".join(texts))
    t_big = timed(lambda: det.detect(big))
    per_rec: dict[str, float] = {}
    for rec in det.registry:
        t0 = time.process_time()
        for n in norms:
            rec.analyze(n.text)
        per_rec[rec.name] = time.process_time() - t0

    hits: Counter[str] = Counter()
    planted: Counter[str] = Counter()
    fp_texts = 0
    fp_risks: Counter[str] = Counter()
    for (_, risk), n in zip(corpus, norms, strict=True):
        found = {f.risk for f in det.detect(n)}
        if risk is None:
            if found:
                fp_texts += 1
                fp_risks.update(found)
        else:
            planted[risk] += 1
            hits[risk] += risk in found
    unplanted = sum(1 for _, r in corpus if r is None)

    print(f"corpus: {len(texts):,} texts, {mb:.2f} MB UTF-8, {sum(planted.values()):,} with planted PII")
    print(f"recognisers only (normalised input), per text : {mb / t_rec:7.2f} MB/s  ({len(texts) / t_rec:,.0f} texts/s)")
    print(f"normalise + recognisers, per text            : {mb / t_all:7.2f} MB/s")
    print(f"recognisers only, one {mb:.1f} MB text           : {mb / t_big:7.2f} MB/s")
    print("time per recogniser over the corpus (ms):")
    for name, t in sorted(per_rec.items(), key=lambda kv: -kv[1]):
        print(f"  {name:16s} {t * 1000:8.1f}")
    print("recall on planted values:")
    for risk in sorted(planted):
        print(f"  {risk:20s} {hits[risk]:5d}/{planted[risk]:<5d} {hits[risk] / planted[risk]:6.1%}")
    print(f"unplanted texts with any finding: {fp_texts}/{unplanted} ({fp_texts / max(1, unplanted):.2%}) {dict(fp_risks)}")
    return 0


def scan_corpus(mb: float, repeat: int) -> int:
    """CPU seconds of the PII detector over the scanner bench corpus, batched and per text."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import scan as benchscan  # bench/scan.py

    path = benchscan.make_corpus(benchscan.WORK / f"pii_{mb}.jsonl", mb)
    with path.open(encoding="utf-8") as fh:
        texts = [json.loads(line)["text"] for line in fh]
    norms = [normalize(t) for t in texts]
    size = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    det = PiiDetector()

    def cpu(fn) -> tuple[float, list]:  # type: ignore[no-untyped-def, type-arg]
        best, out = float("inf"), []
        for _ in range(repeat):
            t0 = time.process_time()
            out = fn()
            best = min(best, time.process_time() - t0)
        return best, out

    t_batch, batched = cpu(lambda: [f for i in range(0, len(norms), 256) for f in det.detect_batch(norms[i : i + 256])])
    t_single, single = cpu(lambda: [det.detect(n) for n in norms])
    assert batched == single, "detect_batch and detect disagree"
    digest = hashlib.sha256(
        repr([[(f.risk, f.start, f.end, f.score, f.evidence) for f in fs] for fs in batched]).encode()
    ).hexdigest()[:16]
    print(f"scan corpus: {len(texts):,} documents, {size:.2f} MB, {sum(1 for fs in batched if fs):,} with findings")
    print(f"detect_batch (256 a batch): {t_batch:.3f} CPU s ({size / t_batch:.1f} MB per CPU s)")
    print(f"detect, one by one        : {t_single:.3f} CPU s ({size / t_single:.1f} MB per CPU s)")
    print(f"findings sha256 {digest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
