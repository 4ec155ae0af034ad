"""Benchmark `hegui scan`: MB/s per core with all checks on a Chinese web-like corpus, scaling 1→2
workers and Ray, against datatrove running comparable filters on the same corpus, and peak RSS
while streaming a large file.

    .venv/bin/python bench/scan.py --mb 16                # throughput, local 1/2 workers + Ray
    .venv/bin/python bench/scan.py --mb 16 --datatrove /tmp/dtvenv/bin/python
    .venv/bin/python bench/scan.py --rss-gb 1             # peak RSS for a 1 GB file
    .venv/bin/python bench/scan.py --mb 32 --no-ray --also-detectors keywords,pii --datatrove /tmp/dtvenv/bin/python
    .venv/bin/python bench/scan_parts.py                  # where one 4 MiB shard's CPU goes, part by part

datatrove venv (not a project dependency): `python -m venv /tmp/dtvenv && /tmp/dtvenv/bin/pip install
datatrove==0.10.1 pyahocorasick spacy regex tokenizers orjson "xxhash<3.6"` (xxhash 4 refuses the str
datatrove 0.10.1 hashes). `cpu_s` counts this process and its local workers, so it stays meaningful
on a loaded machine; it includes the set-up (Guard build and lazily built tables, ≈ 0.3 CPU s,
done once in the driver before the local workers fork).

The corpus is built from `../shared/data` texts (benign prompts, Weibo posts, COLD comments):
documents of 3–12 texts, 8 % with planted PII, 5 % near-duplicates, 2 % spam. Nothing is written
into the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
WORK = Path(tempfile.gettempdir()) / "hegui-bench-scan"


def _pool() -> list[str]:
    texts: list[str] = []
    with open(DATA / "prompts/benign/train.jsonl", encoding="utf-8") as fh:
        texts += [json.loads(x)["text"] for x in fh]
    with open(DATA / "rumours/ced_posts.jsonl", encoding="utf-8") as fh:
        texts += [json.loads(x)["text"] for x in fh]
    import csv

    with open(DATA / "cold/train.csv", encoding="utf-8-sig", newline="") as fh:
        texts += [r["TEXT"] for r in csv.DictReader(fh) if r.get("TEXT")]
    return [t for t in texts if t.strip()]


def make_corpus(path: Path, mb: float, seed: int = 1) -> Path:
    if path.exists() and path.stat().st_size >= mb * 1e6:
        return path
    rng = random.Random(seed)
    pool = _pool()
    target = int(mb * 1e6)
    written = 0
    prev: list[str] = []
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        i = 0
        while written < target:
            r = rng.random()
            if r < 0.05 and prev:
                text = rng.choice(prev).replace("。", "！", 1)  # near-duplicate
            elif r < 0.07:
                text = ("点击领取免费大奖！！！www.example-spam.cn " * rng.randint(5, 20))
            else:
                text = "\n".join(rng.choice(pool) for _ in range(rng.randint(3, 12)))
                if rng.random() < 0.08:
                    text += f"\n联系电话：1{rng.choice('3578')}{rng.randint(10**8, 10**9 - 1)}，邮箱 user{i}@example.com"
            prev = [*prev, text][-50:]
            line = json.dumps({"id": f"doc{i}", "text": text}, ensure_ascii=False) + "\n"
            fh.write(line)
            written += len(line.encode("utf-8"))
            i += 1
    return path


def _cpu() -> float:
    """CPU seconds of this process and its waited-for children: robust to a loaded machine."""
    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


def run_hegui(corpus: Path, executor: str, workers: int, shard_mb: int = 0, detectors: list[str] | None = None) -> dict[str, float]:
    import shutil

    from hegui.config import Settings
    from hegui.datascan import Pipeline, ReaderOptions, ScanOptions, default_steps, scan

    out = WORK / f"out-{executor}-{workers}"
    shutil.rmtree(out, ignore_errors=True)
    settings = Settings(var_dir=WORK / "var", scan={"detectors": detectors or []})  # [] = guard.detectors
    p = Pipeline(default_steps(settings), ReaderOptions(id_field="id"))
    if executor == "ray":
        import ray

        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    t, c = time.perf_counter(), _cpu()
    # shard_mb 0: the scanner's default, as `hegui scan` plans it (32 MiB at most, a small corpus
    # in 16 shards of ≥ 4 MiB: 4 MiB for 32 MB, 8 MiB for 128 MB)
    opts = ScanOptions(executor=executor, workers=workers)
    if shard_mb:
        opts.shard_bytes = shard_mb << 20
    res = scan([str(corpus)], out, p, settings=settings, options=opts)
    dt, cpu = time.perf_counter() - t, _cpu() - c
    if executor == "ray":
        import ray

        ray.shutdown()
    mb = corpus.stat().st_size / 1e6
    # cpu_s counts the driver and local worker processes (Ray workers are not children: 0 there).
    return {"seconds": dt, "mb_s": mb / dt, "mb_s_per_core": mb / dt / workers, "cpu_s": cpu,
            "mb_per_cpu_s": mb / cpu if executor == "local" else 0.0, "docs": res.report["overall"]["docs"],
            "illegal": res.report["overall"]["illegal"], "dups": res.report["overall"]["near_duplicates"],
            "pii_docs": res.report["overall"]["pii_docs"]}


DT_SCRIPT = r'''
import sys, time, ahocorasick
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.formatters import PIIFormatter
from datatrove.pipeline.filters import LambdaFilter
from datatrove.pipeline.dedup.minhash import MinhashDedupSignature, MinhashConfig
from pathlib import Path
corpus, lex, work, tasks = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
A = ahocorasick.Automaton()
for p in Path(lex).rglob("*.txt"):
    for w in p.read_text(encoding="utf-8", errors="ignore").splitlines():
        w = w.strip()
        if len(w) >= 2: A.add_word(w, w)
A.make_automaton()
def no_kw(doc):
    for _ in A.iter(doc.text):
        return False
    return True
t = time.perf_counter()
LocalPipelineExecutor(pipeline=[
    JsonlReader(str(Path(corpus).parent), glob_pattern=Path(corpus).name, id_key="id"),
    PIIFormatter(),
    LambdaFilter(no_kw),
    MinhashDedupSignature(output_folder=work + "/sigs", config=MinhashConfig()),
], tasks=tasks, workers=tasks, logging_dir=work + "/logs", skip_completed=False).run()
print(time.perf_counter() - t)
'''


def run_datatrove(python: str, corpus: Path, tasks: int) -> dict[str, float]:
    import shutil

    work = WORK / f"dt-{tasks}"
    shutil.rmtree(work, ignore_errors=True)
    # datatrove's JsonlReader splits work per file: give it one file per task
    parts = WORK / f"dt-parts-{tasks}"
    shutil.rmtree(parts, ignore_errors=True)
    parts.mkdir(parents=True)
    outs = [open(parts / f"part{i}.jsonl", "w", encoding="utf-8") for i in range(tasks)]  # noqa: SIM115
    with open(corpus, encoding="utf-8") as fh:
        for n, line in enumerate(fh):
            outs[n % tasks].write(line)
    for o in outs:
        o.close()
    script = WORK / "dt_bench.py"
    script.write_text(DT_SCRIPT.replace('glob_pattern=Path(corpus).name', 'glob_pattern="*.jsonl"'), encoding="utf-8")
    c = _cpu()
    r = subprocess.run([python, str(script), str(parts / "part0.jsonl"), str(DATA / "lexicons/konsheng"), str(work), str(tasks)],
                       capture_output=True, text=True, check=True)
    cpu = _cpu() - c  # includes building the keyword automaton, which `seconds` leaves out
    dt = float(r.stdout.strip().splitlines()[-1])
    mb = corpus.stat().st_size / 1e6
    return {"seconds": dt, "mb_s": mb / dt, "mb_s_per_core": mb / dt / tasks, "cpu_s_incl_setup": cpu}


def rss(gb: float, workers: int) -> None:
    import shutil

    big = make_corpus(WORK / f"big-{gb}g.jsonl", gb * 1000, seed=2)
    shutil.rmtree(WORK / "out-big", ignore_errors=True)  # a fresh scan, not a resume
    code = (
        "import sys, resource, time; sys.argv=['x'];"
        "from pathlib import Path; from hegui.config import Settings;"
        "from hegui.datascan import Pipeline, ReaderOptions, ScanOptions, default_steps, scan;"
        f"s=Settings(var_dir=Path('{WORK}/var')); p=Pipeline(default_steps(s), ReaderOptions(id_field='id'));"
        f"t=time.perf_counter(); r=scan(['{big}'], Path('{WORK}/out-big'), p, settings=s, options=ScanOptions(workers={workers}));"
        "print(time.perf_counter()-t, r.report['overall']['docs']);"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    secs, docs = out[0].split()
    drv, child = out[1].split()
    size = big.stat().st_size / 1e6
    print(json.dumps({"file_mb": round(size), "docs": int(docs), "seconds": round(float(secs), 1),
                      "mb_s": round(size / float(secs), 2), "driver_peak_rss_mb": int(drv) // 1024,
                      "worker_peak_rss_mb": int(child) // 1024}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=16)
    ap.add_argument("--datatrove", help="python of a venv with datatrove + pyahocorasick (not a project dependency)")
    ap.add_argument("--datatrove-tasks", type=int, default=1)
    ap.add_argument("--no-ray", action="store_true")
    ap.add_argument("--shard-mb", type=int, default=0, help="largest shard in MiB (default: the scanner's own plan)")
    ap.add_argument("--only", help="comma-separated run names to keep, e.g. 'ray' or 'local ×1' (default: all)")
    ap.add_argument("--rss-gb", type=float, default=0)
    ap.add_argument("--also-detectors", help="also run local ×1 with only these detectors (e.g. keywords,pii: "
                    "the filters closest to the datatrove pipeline)")
    args = ap.parse_args()
    if args.rss_gb:
        rss(args.rss_gb, 2)
        return
    corpus = make_corpus(WORK / f"web-{args.mb}mb.jsonl", args.mb)
    print(f"corpus {corpus} {corpus.stat().st_size / 1e6:.1f} MB; cores {os.cpu_count()}; load {os.getloadavg()[0]:.2f}")
    sm = args.shard_mb
    runs = [("hegui local ×1", lambda: run_hegui(corpus, "local", 1, sm)),
            ("hegui local ×2", lambda: run_hegui(corpus, "local", 2, sm))]
    if args.also_detectors:
        dets = args.also_detectors.split(",")
        runs.append((f"hegui local ×1 [{args.also_detectors}]", lambda: run_hegui(corpus, "local", 1, sm, detectors=dets)))
    if not args.no_ray:
        runs.append(("hegui ray ×2", lambda: run_hegui(corpus, "ray", 2, sm)))
    if args.datatrove:
        runs.append(("datatrove ×1", lambda: run_datatrove(args.datatrove, corpus, 1)))
        if args.datatrove_tasks > 1:  # LocalPipelineExecutor with workers > 1 stalled on our shared VM
            runs.append((f"datatrove ×{args.datatrove_tasks}", lambda: run_datatrove(args.datatrove, corpus, args.datatrove_tasks)))
    if args.only:
        runs = [(n, f) for n, f in runs if any(o.strip() in n for o in args.only.split(","))]
    for name, fn in runs:
        v = fn()
        print(name, json.dumps({a: round(b, 2) if isinstance(b, float) else b for a, b in v.items()}), flush=True)
    print(f"peak RSS of this driver: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB")


if __name__ == "__main__":
    main()
