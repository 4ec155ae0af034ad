"""Where one shard's CPU goes: CPU seconds of each part of `hegui scan`'s per-shard work.

    .venv/bin/python bench/scan_parts.py [--repeat 5] [--mb 32]

Uses the first 4 MiB shard of `bench/scan.py`'s generated corpus (same generator, same seed) and
the default scan settings (all checks). Each part runs on the shard's 256-document batches as the
pipeline runs them, best of ``--repeat`` (CPU time of this process, so a busy machine disturbs it
less than wall time): reading, the three steps, and inside the Guard step the normalisation and
each detector on its own; ``run_shard`` is the whole shard end to end (reading through
serialising). To compare two trees, run this script with ``PYTHONPATH`` set to the other tree's
``src`` and alternate the runs.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scan as bench_scan  # bench/scan.py: the corpus generator


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--mb", type=float, default=32, help="size of the generated corpus (only its first shard is used)")
    args = ap.parse_args()

    from hegui.config import Settings
    from hegui.datascan import Pipeline, ReaderOptions, default_steps
    from hegui.datascan.pipeline import BATCH, run_shard
    from hegui.datascan.readers import Document, plan_shards, read_shard
    from hegui.datascan.signals import analyse_batch
    from hegui.datascan.steps import Record
    from hegui.text.normalize import normalize_batch

    corpus = bench_scan.make_corpus(bench_scan.WORK / f"web-{args.mb}mb.jsonl", args.mb)
    settings = Settings(var_dir=bench_scan.WORK / "var", scan={"detectors": []})
    p = Pipeline(default_steps(settings), ReaderOptions(id_field="id"))
    for step in p.steps:
        prepare = getattr(step, "prepare", None)
        if prepare is not None:
            prepare()
    shard = plan_shards([(str(corpus), corpus.name, corpus.name)], p.reader, 4 << 20)[0]
    docs = [d for d in read_shard(shard, p.reader) if isinstance(d, Document)]
    batches = [docs[i : i + BATCH] for i in range(0, len(docs), BATCH)]
    steps = {type(s).__name__: s for s in p.steps}
    guard = steps["GuardStep"].guard
    texts = [[d.text for d in b] for b in batches]
    langs = [[lang for lang, _, _ in analyse_batch(b)] for b in texts]
    norms = [[n for n in normalize_batch(b, max_chars=guard.max_chars) if n is not None] for b in texts]
    times: dict[str, float] = {}

    def best(name: str, fn: Callable[[], object]) -> None:
        b = float("inf")
        for _ in range(args.repeat):
            c = time.process_time()
            fn()
            b = min(b, time.process_time() - c)
        times[name] = b

    def records() -> list[list[Record]]:
        return [[Record(d, shard.source, shard.rel) for d in b] for b in batches]

    best("read_shard", lambda: list(read_shard(shard, p.reader)))
    best("SignalsStep", lambda: [steps["SignalsStep"](rb) for rb in records()])
    best("MinHashStep", lambda: [steps["MinHashStep"](rb) for rb in records()])
    best("Guard.check_batch (all)",
         lambda: [guard.check_batch(b, role="output", langs=lg) for b, lg in zip(texts, langs, strict=True)])
    best("  normalize_batch", lambda: [normalize_batch(b, max_chars=guard.max_chars) for b in texts])
    for det in guard.detectors:
        run = getattr(det, "detect_batch", None)
        best(f"  {det.name}", lambda det=det, run=run: [run(n) if run else [det.detect(x) for x in n] for n in norms])
    best("run_shard (whole shard)", lambda: run_shard(p, shard))
    for name, t in times.items():
        print(f"{name:26s} {t:.4f} CPU s")
    mb = (shard.end - shard.start) / 1e6 if shard.end >= 0 else corpus.stat().st_size / 1e6
    print(f"{len(docs)} documents, {mb:.2f} MB: {mb / times['run_shard (whole shard)']:.2f} MB per CPU s for the shard")


if __name__ == "__main__":
    main()
