"""Where one shard's CPU goes: CPU seconds of each part of `hegui scan`'s per-shard work.

    .venv/bin/python bench/scan_parts.py [--repeat 5] [--mb 32]
    .venv/bin/python bench/scan_parts.py --fixed [--repeat 3] [--mb 32]   # the costs outside the shards

Uses the first 4 MiB shard of `bench/scan.py`'s generated corpus (same generator, same seed) and
the default scan settings (all checks). Each part runs on the shard's 256-document batches as the
pipeline runs them, best of ``--repeat`` (CPU time of this process, so a busy machine disturbs it
less than wall time): reading, the three steps, and inside the Guard step the normalisation and
each detector on its own; ``run_shard`` is the whole shard end to end (reading through
serialising). To compare two trees, run this script with ``PYTHONPATH`` set to the other tree's
``src`` and alternate the runs.

``--fixed`` times what a scan costs besides its shards, on whole in-process scans of the corpus
(one local worker, 4 MiB shards), best of ``--repeat``: the Guard build, the driver's
near-duplicate pass, merge (annotations, counts, review sample and its CSV/XLSX export) and report,
and, in fresh processes, importing what ``hegui scan`` imports and the first report of a process.
The shards' own time (``run_shard``) is printed for scale; the classifier and the other per-shard
steps change it, not these parts, so two trees with different detectors still compare here.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scan as bench_scan  # bench/scan.py: the corpus generator


def _cpu(children: bool = False) -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def fixed(mb: float, repeat: int) -> None:
    """CPU seconds of a scan's parts outside `run_shard` (see the module docstring)."""
    import importlib
    import shutil
    import subprocess

    from hegui.config import Settings
    from hegui.datascan import Pipeline, ReaderOptions, ScanOptions, default_steps

    scan_mod = importlib.import_module("hegui.datascan.scan")  # the package exports the function `scan`
    executors = importlib.import_module("hegui.datascan.executors")
    protocol = importlib.import_module("hegui.datascan.protocol")
    corpus = bench_scan.make_corpus(bench_scan.WORK / f"web-{mb}mb.jsonl", mb)
    settings = Settings(var_dir=bench_scan.WORK / "var", scan={"detectors": []})
    out = bench_scan.WORK / "out-fixed"
    spent: dict[str, float] = {}
    labels: list[str] = []

    def timed(owner: object, name: str, label: str) -> None:
        fn = getattr(owner, name)
        labels.append(label)

        def wrapper(*a: object, **k: object) -> object:
            c = _cpu()
            try:
                return fn(*a, **k)
            finally:
                spent[label] = spent.get(label, 0.0) + _cpu() - c

        setattr(owner, name, wrapper)

    timed(executors, "run_shard", "run_shard (all shards, for scale)")
    timed(executors.Checkpoints, "write", "checkpoint writes")
    timed(scan_mod, "assign_duplicates", "assign_duplicates")
    timed(scan_mod, "_merge", "merge (all below)")
    timed(protocol, "merge_review", "  merge_review")
    timed(protocol, "write_review", "  write_review (CSV + XLSX)")
    timed(protocol, "write_xlsx", "    write_xlsx")
    timed(scan_mod, "write_scan_report", "write_scan_report")
    best: dict[str, float] = {}
    for _ in range(repeat):
        spent.clear()
        shutil.rmtree(out, ignore_errors=True)
        p = Pipeline(default_steps(settings), ReaderOptions(id_field="id"))
        c = _cpu()
        scan_mod.scan([str(corpus)], out, p, settings=settings,
                      options=ScanOptions(executor="local", workers=1, shard_bytes=4 << 20))
        spent["whole scan()"] = _cpu() - c
        for k, v in spent.items():
            best[k] = min(best.get(k, v), v)
    print(f"in-process scans (best of {repeat}; a later scan of the process: its set-up is in the first shard's run_shard)")
    for name in [*labels, "whole scan()"]:
        print(f"  {name:58s} {best.get(name, 0.0):.4f} CPU s")
    print(f"  {'scan() outside run_shard':58s} {best['whole scan()'] - best['run_shard (all shards, for scale)']:.4f} CPU s")

    # Once per process: measured in fresh ones. Byte-compiled modules as an installed hegui has
    # them (a private cache even where PYTHONDONTWRITEBYTECODE is set); the first run writes it.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(bench_scan.WORK / "pycache")
    setup = (f"from pathlib import Path; from hegui.config import Settings; from hegui.datascan import default_steps;"
             f"s = Settings(var_dir=Path({str(bench_scan.WORK / 'var')!r}), scan={{'detectors': []}})")
    report = (f"import json, hegui.datascan.report as r; from pathlib import Path;"
              f"d = json.loads(Path({str(out / 'report.json')!r}).read_text());"
              f"[d.pop(k) for k in ('title', 'generated_at', 'lang')]")
    probes = {  # label: (set-up, timed statement); None: the whole process
        "imports of `hegui scan`": (None, "import hegui.cli, hegui.config, hegui.datascan.scan, hegui.datascan.annotations, hegui.guard"),
        "steps' prepare(): Guard build, lazily built tables": (setup, "[getattr(x, 'prepare', lambda: None)() for x in default_steps(s)]"),
        "first report of a process (templates)": (report, f"r.write_scan_report(d, Path({str(out / 'again')!r}))"),
    }
    print(f"fresh processes (best of {repeat})")
    for label, (before, stmt) in probes.items():
        times = []
        for _ in range(repeat + 1):  # + the run that byte-compiles
            if before is None:
                c = _cpu(children=True)
                subprocess.run([sys.executable, "-c", stmt], check=True, env=env)
                times.append(_cpu(children=True) - c)
            else:
                code = f"{before}\nimport time\nc = time.process_time()\n{stmt}\nprint(time.process_time() - c)"
                times.append(float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                                  check=True, env=env).stdout))
        print(f"  {label:58s} {min(times[1:]):.4f} CPU s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--mb", type=float, default=32, help="size of the generated corpus (only its first shard is used)")
    ap.add_argument("--fixed", action="store_true", help="time the parts outside the shards (whole in-process scans)")
    args = ap.parse_args()
    if args.fixed:
        fixed(args.mb, args.repeat)
        return

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
