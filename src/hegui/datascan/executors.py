"""Executors: run `run_shard` over the shards and keep a checkpoint per finished shard.

The executors only schedule; what a shard produces is decided by `pipeline.run_shard`. A shard's
checkpoint is written atomically, ``stats.json`` last, so after a crash, a killed worker or Ctrl-C
a rerun of the same command skips exactly the finished shards and loses nothing.
"""

from __future__ import annotations

import concurrent.futures as cf
import gc
import json
import multiprocessing as mp
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hegui.datascan.pipeline import CHECKPOINT_VERSION, Pipeline, ReviewBound, review_keys, run_shard
from hegui.datascan.readers import Shard

ProgressFn = Callable[[Shard], None]


class ScanInterrupted(RuntimeError):
    """The run stopped early; finished shards are checkpointed and a rerun resumes."""


class Checkpoints:
    """Per-shard output files under ``<out>/.scan/shards``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, index: int, name: str) -> Path:
        return self.root / f"{index:06d}.{name}"

    def done(self, shard: Shard) -> bool:
        p = self.path(shard.index, "stats.json")
        if not p.exists():
            return False
        try:
            stats = json.loads(p.read_text())
        except ValueError:
            return False
        # A checkpoint written by another version holds other files: run the shard again.
        return isinstance(stats, dict) and stats.get("key") == shard.key() and stats.get("v") == CHECKPOINT_VERSION

    def write(self, index: int, files: dict[str, bytes]) -> None:
        for name in sorted(files, key=lambda n: n == "stats.json"):  # stats.json last: the commit mark
            target = self.path(index, name)
            tmp = target.with_name(target.name + ".tmp")
            with open(tmp, "wb") as fh:
                data = files[name]
                fh.write(data)
                if data:  # an empty file has no data to lose (3 of 7 files without --filter)
                    fh.flush()
                    os.fsync(fh.fileno())
            tmp.replace(target)

    def read(self, index: int, name: str) -> bytes:
        return self.path(index, name).read_bytes()


# -- local -------------------------------------------------------------------------------------

_WORKER_PIPELINE: Pipeline | None = None
_WORKER_BOUND: Any = None  # the driver's review bound, a 64-bit cell in shared memory


def _init_worker(p: Pipeline, bound: Any) -> None:
    global _WORKER_PIPELINE, _WORKER_BOUND
    _WORKER_PIPELINE, _WORKER_BOUND = p, bound
    if not gc.get_freeze_count():  # a spawned worker: nothing inherited, build and freeze here
        _prepare(p)
        _freeze_heap()
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle


def _read_bound() -> int:
    # One aligned 64-bit read, no lock: a stale value is an earlier, larger bound, still valid.
    return int(_WORKER_BOUND.value)


def _work(shard: Shard) -> dict[str, bytes]:
    assert _WORKER_PIPELINE is not None
    return run_shard(_WORKER_PIPELINE, shard, _read_bound)


def _review_bound(p: Pipeline, shards: Sequence[Shard], ckpt: Checkpoints) -> ReviewBound:
    """The bound from the candidates of the shards already checkpointed (a resumed run)."""
    bound = ReviewBound(p.review_n)
    for s in shards:
        if ckpt.done(s):
            bound.add(review_keys(ckpt.read(s.index, "review_keys.npy")))
    return bound


def run_local(
    p: Pipeline, shards: Sequence[Shard], ckpt: Checkpoints, workers: int, on_done: ProgressFn | None = None
) -> int:
    """Process the pending shards with ``workers`` processes; returns how many ran.

    ``workers == 1`` runs in this process (no fork), which is what a debugger wants.
    """
    pending = [s for s in shards if not ckpt.done(s)]
    bound = _review_bound(p, shards, ckpt)
    if workers <= 1:
        try:
            for s in pending:
                files = run_shard(p, s, lambda: bound.value)
                bound.add(review_keys(files["review_keys.npy"]))
                ckpt.write(s.index, files)
                if on_done:
                    on_done(s)
        except KeyboardInterrupt:
            raise ScanInterrupted(
                "已中断，已完成的分片已保存；重新运行同一命令即可续扫。 Interrupted; finished shards are saved, rerun to resume."
            ) from None
        return len(pending)
    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context("spawn")
    frozen = False
    if ctx.get_start_method() == "fork":
        # Build the detectors and tables once here: forked workers inherit them (shared pages)
        # instead of each paying the set-up (≈ 0.3 CPU s a worker). Spawned workers get the
        # pipeline pickled, without them, so there it would only cost the driver.
        _prepare(p)
        frozen = _freeze_heap()
    try:
        return _run_pool(ctx, p, pending, ckpt, workers, bound, on_done)
    finally:
        if frozen:
            gc.unfreeze()


def _prepare(p: Pipeline) -> None:
    """Build every step's detectors and tables now (they are otherwise built on the first batch)."""
    for step in p.steps:
        prepare = getattr(step, "prepare", None)
        if prepare is not None:
            prepare()


def _freeze_heap() -> bool:
    """Put the driver's objects in the collector's permanent generation before the workers fork
    (the `gc.freeze` documentation's advice for pre-fork servers); True if it did.

    A forked worker shares the driver's pages until it writes to them, and a collection writes to
    every object it examines: each worker's collections walked the inherited Guard (keyword and
    PII tables, the policy) and copied those pages. Frozen objects are never examined. 32 MB scan,
    two workers: 24,500 → 17,000 page faults in each worker's first shard, ≈ 0.1 CPU s less per
    worker. The driver unfreezes when the pool is done. A process that froze objects itself keeps
    its own arrangement (nothing is frozen here, so ``gc.unfreeze`` cannot undo the caller's).
    """
    if gc.get_freeze_count():
        return False
    gc.collect()  # what is garbage now is freed, not frozen
    gc.freeze()
    return True


def _run_pool(
    ctx: Any, p: Pipeline, pending: list[Shard], ckpt: Checkpoints, workers: int, bound: ReviewBound,
    on_done: ProgressFn | None,
) -> int:
    cell = ctx.Value("Q", bound.value, lock=False)  # the workers read the bound here
    ex = cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker, initargs=(p, cell))
    try:
        futures = {ex.submit(_work, s): s for s in pending}
        for fut in cf.as_completed(futures):
            s = futures.pop(fut)  # drop the future: it holds the shard's output bytes
            try:
                files = fut.result()
            except cf.process.BrokenProcessPool as e:
                raise ScanInterrupted(
                    "扫描进程意外退出，已完成的分片已保存；重新运行同一命令即可续扫。"
                    " A worker process died; finished shards are saved, rerun the same command to resume."
                ) from e
            cell.value = bound.add(review_keys(files["review_keys.npy"]))
            ckpt.write(s.index, files)
            del files, fut
            if on_done:
                on_done(s)
    except KeyboardInterrupt:
        _abandon(ex)
        raise ScanInterrupted(
            "已中断，已完成的分片已保存；重新运行同一命令即可续扫。 Interrupted; finished shards are saved, rerun to resume."
        ) from None
    except BaseException:
        _abandon(ex)
        raise
    ex.shutdown(wait=True)
    return len(pending)


def _abandon(ex: cf.ProcessPoolExecutor) -> None:
    """Stop a pool after a failure and wait until its manager thread is gone.

    ``shutdown(wait=False)`` alone leaves that thread running, holding locks; the next scan in this
    process forks its workers while the thread holds one, and a child then waits on it for ever
    (seen as a hung ``test_crash_then_resume``). Terminating the workers ends their work at once;
    the joined shutdown then returns quickly.
    """
    procs = list((getattr(ex, "_processes", None) or {}).values())  # shutdown() forgets them
    ex.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        if proc.is_alive():
            proc.terminate()
    ex.shutdown(wait=True)


# -- Ray Data ----------------------------------------------------------------------------------


class _RayShardFn:
    """A Ray Data map UDF: one instance per actor, so the Guard is built once per worker.

    Each actor keeps its own review bound (`ReviewBound`) over the shards it has finished, on top
    of the checkpointed shards' keys the driver passes in. No shared state is needed: once any set
    of finished shards holds ``review_n`` candidates with keys ≤ b, no document above b can make
    the sample. It is a little looser than the local executor's bound over every finished shard,
    and without it each Ray shard kept (and serialised the texts of) all its documents.

    The actor builds the detectors up front and then freezes its heap (`_freeze_heap`): an actor
    process holds Ray's, pyarrow's and pandas' objects besides the Guard, and every full
    collection walked them all. 128 MB on a local 2-CPU Ray: 0.36–0.39 → 0.31 CPU s per 4 MiB
    shard (the local workers' figure), 10.1–10.8 → 9.2 s.
    """

    def __init__(self, p: Pipeline, shards: dict[int, Shard], known_keys: np.ndarray) -> None:
        self.p = p
        self.shards = shards
        self.bound = ReviewBound(p.review_n)
        self.bound.add(known_keys)
        _prepare(p)
        _freeze_heap()  # for the actor's life: it ends with the scan

    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:
        shard = self.shards[int(row["index"])]
        bound = self.bound
        files = run_shard(self.p, shard, lambda: bound.value)
        bound.add(review_keys(files["review_keys.npy"]))
        return {"index": shard.index, **{k.replace(".", "__"): v for k, v in files.items()}}


def run_ray(
    p: Pipeline,
    shards: Sequence[Shard],
    ckpt: Checkpoints,
    workers: int,
    address: str | None = None,
    on_done: ProgressFn | None = None,
) -> int:
    """Process the pending shards on Ray Data (a local Ray, or the cluster at ``address``)."""
    try:
        import ray
        import ray.data
    except ImportError as e:  # pragma: no cover - ray is a dev/extra dependency
        raise RuntimeError("需要安装 Ray: pip install 'hegui[ray]'  Ray is not installed: pip install 'hegui[ray]'") from e
    pending = [s for s in shards if not ckpt.done(s)]
    if not pending:
        return 0
    if not ray.is_initialized():
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=max(1, workers), include_dashboard=False, log_to_driver=False)
    by_index = {s.index: s for s in pending}
    known = _review_bound(p, shards, ckpt).smallest  # a resumed run's finished shards
    # hegui reports progress itself (`on_done`); Ray Data's own progress lines cost the driver
    # 0.2–0.35 s per 128 MB on a 2-CPU machine. Put back afterwards: the context is the caller's.
    dctx = ray.data.DataContext.get_current()
    quiet = {"enable_progress_bars": False, "enable_operator_progress_bars": False, "print_on_execution_start": False}
    saved = {k: getattr(dctx, k) for k in quiet if hasattr(dctx, k)}
    for k in saved:
        setattr(dctx, k, quiet[k])
    try:
        return _run_ray_dataset(p, pending, by_index, known, ckpt, workers, on_done)
    finally:
        for k, v in saved.items():
            setattr(dctx, k, v)


def _run_ray_dataset(p: Pipeline, pending: list[Shard], by_index: dict[int, Shard], known: np.ndarray,
                     ckpt: Checkpoints, workers: int, on_done: ProgressFn | None) -> int:
    import ray.data

    ds = ray.data.from_items([{"index": s.index} for s in pending], override_num_blocks=len(pending))
    ds = ds.map(
        _RayShardFn,
        fn_constructor_args=(p, by_index, known),
        compute=ray.data.ActorPoolStrategy(size=max(1, min(workers, len(pending)))),
        num_cpus=1,
    )
    try:
        for row in ds.iter_rows():
            idx = int(row["index"])
            files = {k.replace("__", "."): bytes(v) for k, v in row.items() if k != "index"}
            ckpt.write(idx, files)
            if on_done:
                on_done(by_index[idx])
    except KeyboardInterrupt:
        raise ScanInterrupted(
            "已中断，已完成的分片已保存；重新运行同一命令即可续扫。 Interrupted; finished shards are saved, rerun to resume."
        ) from None
    return len(pending)
